// POST /functions/deploy (what `patchbay deploy` calls) and GET /functions. Bundles arrive
// built and inspected by the CLI; the server checks each hash against its code and stores the set.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import type { DeployChanges, FunctionInput, Store } from '../store/index.js';
import { parseInput } from '../validate.js';

// Bundles that include zod weigh ~100–300 KB; 64 MB leaves room for a few hundred functions.
const MAX_DEPLOY_BYTES = 64 * 1024 * 1024;
const NAME = /^[a-zA-Z0-9_-]+$/;
const INTEGRATION_KEY = /^[a-zA-Z0-9~:.@ _-]+$/;

const deployBody = z.strictObject({
  functions: z
    .array(
      z.strictObject({
        integration_key: z.string().min(1).max(255).regex(INTEGRATION_KEY),
        kind: z.enum(['action', 'sync']),
        name: z.string().min(1).max(255).regex(NAME),
        source_path: z.string().min(1).max(1024),
        hash: z.string().regex(/^[0-9a-f]{64}$/),
        code: z.string().min(1),
        config: z.record(z.string(), z.unknown()),
      }),
    )
    .max(5000),
});

export interface FunctionRouteDeps {
  store: Store;
  /** Tells every process that the deployed set changed. */
  deployed(): void;
}

export function functionRoutes(api: FastifyInstance, deps: FunctionRouteDeps): void {
  api.post('/functions/deploy', { bodyLimit: MAX_DEPLOY_BYTES }, async (request) => {
    const body = parseInput(deployBody, request.body, 'invalid_body');
    const inputs: FunctionInput[] = body.functions.map((f, index) => {
      const hash = createHash('sha256').update(f.code).digest('hex');
      if (hash !== f.hash) {
        throw new PatchbayError('invalid_body', {
          message: `functions.${index}.hash does not match its code.`,
          fields: { errors: [{ code: 'hash_mismatch', message: 'does not match the sha256 of code', path: ['functions', index, 'hash'] }] },
        });
      }
      return { integrationKey: f.integration_key, kind: f.kind, name: f.name, sourcePath: f.source_path, hash, code: f.code, config: f.config };
    });
    const changes = await deployFunctions(deps, inputs);
    return { success: true, ...changes };
  });

  api.get('/functions', async () => {
    const all = await deps.store.functions.list();
    return {
      functions: all.map((f) => ({
        integration_key: f.integrationKey,
        kind: f.kind,
        name: f.name,
        source_path: f.sourcePath,
        hash: f.bundleHash,
        enabled: f.enabled,
        deployed_at: f.deployedAt.toISOString(),
        config: f.config,
      })),
    };
  });
}

/** Replaces the deployed set in one transaction and announces it. Shared by the route and `start`. */
export async function deployFunctions(deps: FunctionRouteDeps, inputs: FunctionInput[]): Promise<DeployChanges> {
  const changes = await deps.store.transaction((tx) => tx.functions.replaceAll(inputs));
  deps.deployed();
  return changes;
}
