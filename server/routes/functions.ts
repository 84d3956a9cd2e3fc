// POST /functions/deploy (what `patchbay deploy` calls) and GET /functions. Bundles arrive
// built and inspected by the CLI; the server checks each hash against its code and stores the set.
// Functions the CLI could not build arrive as `failures`: their deployed version stays, and
// GET /functions shows why they were not updated.
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError } from '../errors.js';
import { deployFunctions } from '../functions/deploy.js';
import type { FunctionFailure, FunctionFailureInput, FunctionInput, Store } from '../store/index.js';
import { parseInput } from '../validate.js';
import { keyCursorSchema, toKeyCursor } from './position-cursor.js';

// Bundles that include zod weigh ~100–300 KB and their source maps about two thirds of that;
// 128 MB leaves room for a few hundred functions with their maps.
const MAX_DEPLOY_BYTES = 128 * 1024 * 1024;
// As a dry run's (POST /functions/dryrun): a map of the largest bundle a function may have.
const MAX_SOURCE_MAP_CHARS = 16 * 1024 * 1024;
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
        source_map: z.string().max(MAX_SOURCE_MAP_CHARS).optional(),
        config: z.record(z.string(), z.unknown()),
      }),
    )
    .max(5000),
  failures: z
    .array(
      z.strictObject({
        integration_key: z.string().min(1).max(255),
        kind: z.enum(['action', 'sync']),
        name: z.string().min(1).max(255),
        source_path: z.string().min(1).max(1024),
        problems: z
          .array(z.strictObject({ file: z.string().max(1024), line: z.int().min(0), column: z.int().min(0), message: z.string().max(10_000) }))
          .min(1)
          .max(100),
      }),
    )
    .max(5000)
    .optional(),
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
      return { integrationKey: f.integration_key, kind: f.kind, name: f.name, sourcePath: f.source_path, hash, code: f.code, sourceMap: f.source_map, config: f.config };
    });
    const failures: FunctionFailureInput[] = (body.failures ?? []).map((f) => ({
      integrationKey: f.integration_key,
      kind: f.kind,
      name: f.name,
      sourcePath: f.source_path,
      problems: f.problems,
    }));
    const changes = await deployFunctions(deps, inputs, failures);
    return { success: true, ...changes };
  });

  api.get('/functions', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    const paged = query.limit !== undefined || query.cursor !== undefined;
    const limit = query.limit ?? DEFAULT_PAGE;
    const [found, allFailures] = await Promise.all([
      paged || query.integration_key !== undefined || query.kind !== undefined
        ? deps.store.functions.page({ integrationKey: query.integration_key, kind: query.kind, after: query.cursor, limit: paged ? limit + 1 : Number.MAX_SAFE_INTEGER })
        : deps.store.functions.list(),
      deps.store.functions.failures(),
    ]);
    const failures = allFailures.filter((f) => (query.integration_key === undefined || f.integrationKey === query.integration_key) && (query.kind === undefined || f.kind === query.kind));
    const failureOf = new Map(failures.map((f) => [`${f.integrationKey}\0${f.kind}\0${f.name}`, f]));
    const functions = paged ? found.slice(0, limit) : found;
    const last = functions.at(-1);
    return {
      functions: functions.map((f) => {
        const failure = failureOf.get(`${f.integrationKey}\0${f.kind}\0${f.name}`);
        return {
          integration_key: f.integrationKey,
          kind: f.kind,
          name: f.name,
          source_path: f.sourcePath,
          hash: f.bundleHash,
          enabled: f.enabled,
          deployed_at: f.deployedAt.toISOString(),
          config: f.config,
          // The folder's current version does not build: this deployed one still serves.
          ...(failure === undefined ? {} : { error: wireProblem(failure) }),
        };
      }),
      // Every function the last deploy could not build, deployed before or not (paged: on the first page).
      errors: query.cursor !== undefined
        ? []
        : failures.map((f) => ({
            integration_key: f.integrationKey,
            kind: f.kind,
            name: f.name,
            source_path: f.sourcePath,
            ...wireProblem(f),
            problems: f.problems,
            failed_at: f.failedAt.toISOString(),
          })),
      ...(paged ? { next_cursor: found.length > limit && last !== undefined ? toKeyCursor([last.integrationKey, last.kind, last.name]) : null } : {}),
    };
  });
}

const DEFAULT_PAGE = 100;
/**
 * GET /functions: the whole deployed set without `limit` or `cursor` (as it always answered); with
 * them, a page in (integration, kind, name) order and `next_cursor`. `integration_key` and `kind`
 * narrow either. Other parameters are ignored, as they always were.
 */
const listQuery = z.object({
  integration_key: z.string().min(1).max(255).optional(),
  kind: z.enum(['action', 'sync']).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: keyCursorSchema((key) =>
    key.length === 3 && key.every((part) => typeof part === 'string' && part.length > 0 && part.length <= 255)
      ? { integrationKey: key[0] as string, kind: key[1] as string, name: key[2] as string }
      : undefined,
  ).optional(),
});

/** A failure's first problem, as `{file, line, message}` (line 0: the whole file). */
function wireProblem(failure: FunctionFailure): { file: string; line: number; column: number; message: string } {
  const [first] = failure.problems;
  return first === undefined ? { file: failure.sourcePath, line: 0, column: 0, message: 'does not build' } : { ...first };
}
