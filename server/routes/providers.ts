// GET /providers: the catalog, searched by name and auth mode and paged (the dashboard's
// provider picker). A catalog holds up to ~1,000 entries (Nango's); a search reads them in memory.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { AUTH_MODES, type Catalog } from '../providers/catalog.js';
import { parseInput } from '../validate.js';

const listQuery = z.strictObject({
  search: z.string().max(255).optional(),
  auth_mode: z.enum(AUTH_MODES).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  page: z.coerce.number().int().min(0).max(10_000).default(0),
});

export function providerRoutes(app: FastifyInstance, deps: { catalog: Catalog }): void {
  app.get('/providers', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    const needle = query.search?.trim().toLowerCase() ?? '';
    const matching = deps.catalog
      .keys()
      .map((key) => deps.catalog.get(key))
      .filter((provider) => provider !== undefined)
      .filter((provider) => query.auth_mode === undefined || provider.authMode === query.auth_mode)
      .filter((provider) => needle === '' || provider.key.toLowerCase().includes(needle) || provider.displayName.toLowerCase().includes(needle))
      // Names that start with the search first: typing "git" lists GitHub before DigitalOcean.
      .sort((a, b) => Number(b.key.startsWith(needle)) - Number(a.key.startsWith(needle)) || a.displayName.localeCompare(b.displayName));
    const start = query.page * query.limit;
    return {
      data: matching.slice(start, start + query.limit).map((provider) => ({
        name: provider.key,
        display_name: provider.displayName,
        auth_mode: provider.authMode,
        categories: provider.categories,
        docs: provider.docs ?? null,
      })),
      total: matching.length,
    };
  });
}
