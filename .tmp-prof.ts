import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
const { parseProvider } = await import('./server/providers/provider.js');
const t0 = performance.now();
const text = readFileSync('node_modules/@nangohq/providers/providers.yaml', 'utf8');
const t1 = performance.now();
const d = yaml.load(text, { schema: yaml.CORE_SCHEMA }) as Record<string, any>;
const t2 = performance.now();
let n = 0; for (const [k, v] of Object.entries(d)) { if (parseProvider(k, v).ok) n++; }
const t3 = performance.now();
let m = 0; for (const [k, v] of Object.entries(d)) { if (parseProvider(k, v).ok) m++; }
const t4 = performance.now();
console.log('read', (t1-t0).toFixed(0), 'parse', (t2-t1).toFixed(0), 'zod cold', (t3-t2).toFixed(0), 'zod warm', (t4-t3).toFixed(0), n);
