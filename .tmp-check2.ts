const { loadCatalog } = await import('./server/providers/catalog.js');
loadCatalog();
for (let i = 0; i < 3; i++) {
const t2 = performance.now();
const c = loadCatalog('node_modules/@nangohq/providers/providers.yaml');
console.log('nango', (performance.now()-t2).toFixed(0), c.keys().length);
}
