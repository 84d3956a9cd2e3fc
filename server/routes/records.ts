// GET /records and PATCH /records/prune, as Nango's API has them: a connection's synced records in change
// order, with an opaque cursor per record, and pruning of what the app has read. Adapter only: validation and wire shape here, the paging in store/records.ts.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { modelKey, type RecordAction, type Store, type StoredRecord } from '../store/index.js';
import { parseInput } from '../validate.js';
import { requireConnection } from './connection-lookup.js';
import type { ProviderLookup } from '../store/provider-cache.js';

// As in Nango's API: modified_after / delta must lie within the last 12 months.
const MODIFIED_AFTER_MAX_AGE_MONTHS = 12;

const headersSchema = z.object({
  'connection-id': z.string().min(1).max(255),
  'provider-config-key': z.string().min(1).max(255),
});

const sinceSchema = z.iso
  .datetime({ offset: true })
  .transform((value) => new Date(value))
  .refine(
    (date) => {
      const oldest = new Date();
      oldest.setUTCMonth(oldest.getUTCMonth() - MODIFIED_AFTER_MAX_AGE_MONTHS);
      return date >= oldest;
    },
    { message: `must be within the last ${MODIFIED_AFTER_MAX_AGE_MONTHS} months` },
  );

/** A cursor is the base64url of a record's seq; anything we did not produce is refused. */
const cursorSchema = z
  .string()
  .min(1)
  .max(1000)
  .transform((text, context) => {
    const decoded = Buffer.from(text, 'base64url').toString('latin1');
    if (!/^[1-9][0-9]{0,15}$/.test(decoded) || toCursor(Number(decoded)) !== text || !Number.isSafeInteger(Number(decoded))) {
      context.addIssue({ code: 'custom', message: 'is not a cursor returned by this API' });
      return z.NEVER;
    }
    return Number(decoded);
  });

const idSchema = z.string().min(1).max(256);

const querySchema = z.strictObject({
  model: z.string().min(1).max(255),
  variant: z.string().min(1).max(255).optional(),
  modified_after: sinceSchema.optional(),
  /** Deprecated alias of modified_after. */
  delta: sinceSchema.optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(100),
  filter: z
    .string()
    .transform((csv) => csv.split(',').map((part) => part.trim().toUpperCase()))
    .pipe(z.array(z.enum(['ADDED', 'UPDATED', 'DELETED'])))
    .optional(),
  cursor: cursorSchema.optional(),
  // Fastify gives a repeated parameter as an array, a single one as a string.
  ids: z.union([idSchema.transform((id) => [id]), z.array(idSchema).max(100)]).optional(),
});

const pruneBody = z.strictObject({
  model: z.string().min(1).max(255),
  variant: z.string().min(1).max(255).optional(),
  until_cursor: cursorSchema,
  limit: z.number().int().min(1).max(10_000).default(1000),
});

function toCursor(seq: number): string {
  return Buffer.from(String(seq), 'latin1').toString('base64url');
}

function toWireRecord(record: StoredRecord) {
  return {
    ...record.data,
    id: record.id,
    _nango_metadata: {
      first_seen_at: record.firstSeenAt.toISOString(),
      last_modified_at: record.lastModifiedAt.toISOString(),
      last_action: record.lastAction,
      deleted_at: record.deletedAt?.toISOString() ?? null,
      pruned_at: record.prunedAt?.toISOString() ?? null,
      cursor: toCursor(record.seq),
    },
  };
}

export function recordRoutes(api: FastifyInstance, deps: { store: Store; providers?: ProviderLookup | undefined }): void {
  // `@nangohq/node` asks for `/records/?…` (with the slash); plain clients drop it.
  for (const url of ['/records', '/records/']) api.get(url, async (request) => {
    const headers = parseInput(headersSchema, request.headers, 'invalid_headers');
    const query = parseInput(querySchema, request.query, 'invalid_query_params');
    const integrationKey = headers['provider-config-key'];
    const connectionId = headers['connection-id'];
    const model = modelKey(query.model, query.variant);

    // The page is read alongside the lookup: an unknown connection has no records to leak.
    const [, page] = await Promise.all([
      requireConnection(deps.store, integrationKey, connectionId, deps.providers),
      deps.store.records.list(
        { integrationKey, connectionId, model },
        {
          limit: query.limit,
          afterSeq: query.cursor,
          modifiedAfter: query.modified_after ?? query.delta,
          filter: query.filter as RecordAction[] | undefined,
          ids: query.ids,
        },
      ),
    ]);
    return {
      records: page.records.map(toWireRecord),
      next_cursor: page.hasMore && page.lastSeq !== null ? toCursor(page.lastSeq) : null,
    };
  });

  api.patch('/records/prune', async (request) => {
    const headers = parseInput(headersSchema, request.headers, 'invalid_headers');
    const body = parseInput(pruneBody, request.body ?? {}, 'invalid_body');
    const integrationKey = headers['provider-config-key'];
    const connectionId = headers['connection-id'];
    await requireConnection(deps.store, integrationKey, connectionId);
    const model = modelKey(body.model, body.variant);
    const pruned = await deps.store.records.pruneUntil({ integrationKey, connectionId, model }, body.until_cursor, body.limit);
    return { count: pruned.count, has_more: pruned.hasMore };
  });
}
