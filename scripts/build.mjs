// `npm run build` and npm's `prepare`: dist/ with JavaScript, assets and type declarations.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { refreshDist } from './dist.mjs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
await refreshDist(root, { declarations: true, log: (message) => process.stderr.write(`build: ${message}\n`) });
