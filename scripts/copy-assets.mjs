// Copies the non-TypeScript files the compiled code reads next to itself (providers.yaml,
// store/migrations/*.sql, connect-ui/*, dashboard/ui/*, ...) from server/ and runner/ into dist/. Runs after tsc in `npm run build`.
import { cp, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ASSET = /\.(ya?ml|sql)$/i;
// The hosted Connect UI is plain browser files, served as they are: copy all of its folder.
const UI_DIR = path.join(root, 'server', 'connect-ui') + path.sep;
// So is the dashboard's (server/dashboard/ui: ES modules served as they are, no build step).
const DASHBOARD_DIR = path.join(root, 'server', 'dashboard', 'ui') + path.sep;

for (const dir of ['server', 'runner']) {
  const source = path.join(root, dir);
  const exists = await stat(source).then((s) => s.isDirectory(), () => false);
  if (!exists) continue;
  await cp(source, path.join(root, 'dist', dir), {
    recursive: true,
    // Walk every folder; copy only asset files.
    filter: async (src) => (await stat(src)).isDirectory() || ASSET.test(src) || src.startsWith(UI_DIR) || src.startsWith(DASHBOARD_DIR),
  });
}
