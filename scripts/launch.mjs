// `npm start` (and `npm run server` / `runner`): Patchbay from its compiled dist/, after compiling
// whatever source changed since dist/ was built (scripts/dist.mjs; nothing, after `npm install`).
// No TypeScript loader stays in the process: it starts faster, holds less and serves faster.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { refreshDist } from './dist.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
try {
  await refreshDist(root, { log: (message) => process.stderr.write(`patchbay: ${message}\n`) });
} catch (error) {
  process.stderr.write(`patchbay: could not compile the sources into dist/: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
await import(pathToFileURL(path.join(root, 'dist', 'bin', 'patchbay.js')).href);
