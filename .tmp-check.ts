const t0 = performance.now();
const { loadCatalog } = await import('./server/providers/catalog.js');
const t1 = performance.now();
const b = loadCatalog();
const t2 = performance.now();
let warned = 0;
const c = loadCatalog('node_modules/@nangohq/providers/providers.yaml', { onWarning: (m, d) => { warned++; console.log(m); console.log(JSON.stringify(d.authModes)); } });
const t3 = performance.now();
console.log('import', (t1-t0).toFixed(0), 'bundled', (t2-t1).toFixed(0), b.keys().length, 'nango', (t3-t2).toFixed(0), c.keys().length, 'warned', warned);
for (const s of c.skipped()) console.log(' ', s.key, s.keptBundled, s.reason.slice(0, 140));
for (const k of ['github','slack','salesforce','zendesk','hubspot','notion','twilio','openai']) { const p = c.get(k)!; console.log(k, p.authMode, p.proxy.baseUrl, p.authorizationMethod, JSON.stringify(p.proxy.verification)); }
