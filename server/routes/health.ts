// GET /health and GET /ready, outside the secret-key scope (load balancers and orchestrators
// call them without a key).
import type { FastifyInstance } from 'fastify';
import { PatchbayError } from '../errors.js';
import type { DatabaseProbe } from '../store/index.js';

export function healthRoutes(app: FastifyInstance, deps: { database: DatabaseProbe }): void {
  // Liveness, in Nango's shape: the process serves HTTP. It says nothing of the database on
  // purpose: restarting Patchbay does not bring a database back, and the embedded one is
  // restarted by Patchbay itself (bin/embedded-postgres.ts).
  app.get('/health', async () => ({ result: 'ok' }));

  // Readiness: whether requests can be served now, i.e. the database answers (503 while not).
  app.get('/ready', async () => {
    if (!(await deps.database.isReachable())) throw new PatchbayError('database_unavailable');
    return { result: 'ok' };
  });
}
