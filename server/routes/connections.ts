// /connections: import with existing credentials, list, read, patch, metadata, delete, as Nango's API does.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { HEADER_KEY_PATTERN, HEADER_KEY_RULE, HEADER_TOKEN_PATTERN, HEADER_TOKEN_RULE } from '../credentials/header-safe.js';
import { verifyCredentials, type VerifyDeps } from '../credentials/verify.js';
import { PatchbayError, validationError } from '../errors.js';
import type { Catalog } from '../providers/catalog.js';
import { toFullConnection, toPublicConnection, toRedactedConnection } from '../connection-json.js';
import { isSessionRequest, refuseSessionCredentials } from '../plugins/auth.js';
import type { Connection, ConnectionCredentials, Store } from '../store/index.js';
import { bracketedQuery, mapKey, parseInput } from '../validate.js';
import { UNIQUE_KEY } from './integrations.js';

/** Hooks the routes call so other parts (the proxy's caches) hear about writes. */
export interface ConnectionEvents {
  changed(providerConfigKey: string, connectionId: string): void;
  integrationChanged(providerConfigKey: string): void;
}

/** Credentials used by `GET /connections/:id` to produce fresh tokens (refresh on read). */
export interface CredentialsRefresher {
  fresh(connection: Connection, options: { force: boolean }): Promise<Connection>;
}

export const CONNECTION_ID = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
const token = z.string().min(1).max(16384);
/** A token sent in the Authorization header (server/credentials/header-safe.ts). */
const headerToken = token.regex(HEADER_TOKEN_PATTERN, HEADER_TOKEN_RULE);
/** An API key, which the provider's template puts in a header. */
export const apiKeySchema = z.string().min(1).regex(HEADER_KEY_PATTERN, HEADER_KEY_RULE);
// Years PostgreSQL's timestamptz and ISO strings both hold: JavaScript accepts ±275 760, and
// `-271821-04-20` answered a 500 from the expiry column.
const isoDate = z.coerce.date().refine((d) => !Number.isNaN(d.getTime()) && d.getUTCFullYear() >= 1 && d.getUTCFullYear() <= 9999, 'must be a date');
const jsonObject = z.record(mapKey, z.unknown());

/**
 * Connection bodies hold ids, credentials and two 64 KiB JSON values; 1 MiB bounds them with
 * room to spare, where the server-wide limit (75 MB, sized for the proxy) let 70 MB of metadata
 * be parsed before anything looked at it.
 */
const MAX_CONNECTION_BODY_BYTES = 1024 * 1024;
/**
 * connection_config holds a few values for the provider's URL templates (subdomain, region,
 * account ids) and goes out with every connection read and function run: the metadata bound.
 */
const MAX_CONNECTION_CONFIG_BYTES = 64 * 1024;
const connectionConfig = jsonObject.refine(
  (config) => Buffer.byteLength(JSON.stringify(config)) <= MAX_CONNECTION_CONFIG_BYTES,
  `must be at most ${MAX_CONNECTION_CONFIG_BYTES} bytes of JSON`,
);

// Nango's tag rules (TAG_MAX_COUNT, TAG_KEY_MAX_LENGTH, TAG_VALUE_MAX_LENGTH in @nangohq/shared):
// what Nango accepts we accept, and a tag filter stays a small jsonb containment.
const TAG_MAX_COUNT = 10;
const tagKey = mapKey.min(1).max(64);
export const tagsSchema = z
  .record(tagKey, z.string().max(255))
  .refine((tags) => Object.keys(tags).length <= TAG_MAX_COUNT, `must have at most ${TAG_MAX_COUNT} tags`);
// Browsers and CDNs stop near 2 KB; a webhook URL has no reason to be longer.
export const webhookUrl = z.url({ protocol: /^https?$/ }).max(2048);

const credentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('OAUTH2'),
    access_token: headerToken,
    refresh_token: token.optional(),
    expires_at: isoDate.optional(),
    config_override: z.strictObject({ client_id: z.string().max(4096).optional(), client_secret: z.string().max(4096).optional() }).optional(),
  }),
  z.strictObject({
    type: z.literal('OAUTH2_CC'),
    token: headerToken.optional(),
    client_id: z.string().min(1).max(4096),
    client_secret: z.string().min(1).max(4096),
    expires_at: isoDate.optional(),
  }),
  z.strictObject({ type: z.literal('API_KEY'), apiKey: apiKeySchema.max(1024) }),
  z.strictObject({ type: z.literal('BASIC'), username: z.string().max(1024), password: z.string().max(1024) }),
  z.strictObject({ type: z.literal('NONE') }),
]);

export const endUserSchema = z.strictObject({
  id: z.string().min(1).max(255),
  email: z.string().max(255).nullish(),
  display_name: z.string().max(255).nullish(),
  tags: tagsSchema.nullish(),
});
/**
 * A connection's end user as POST and PATCH /connections take it: a PATCH replaces it whole, so
 * the organization a Connect session gave it may be sent back with it (a Patchbay tolerance).
 */
const connectionEndUserSchema = z.strictObject({
  ...endUserSchema.shape,
  organization: z.strictObject({ id: z.string().min(1).max(255), display_name: z.string().max(255).nullish() }).nullish(),
});

const createBody = z.strictObject({
  provider_config_key: UNIQUE_KEY,
  connection_id: CONNECTION_ID.optional(),
  metadata: jsonObject.optional(),
  connection_config: connectionConfig.optional(),
  webhook_url_override: webhookUrl.optional(),
  end_user: connectionEndUserSchema.optional(),
  tags: tagsSchema.optional(),
  credentials: credentialsSchema,
  // Patchbay's addition (Nango's body has no such field): `false` stores API_KEY and BASIC
  // credentials without calling the provider's verification endpoint first, e.g. for a bulk import.
  verify: z.boolean().optional(),
});

const idParams = z.strictObject({ connectionId: CONNECTION_ID });
const booleanString = z.enum(['true', 'false']).transform((v) => v === 'true');
const getQuery = z.strictObject({
  provider_config_key: UNIQUE_KEY,
  force_refresh: booleanString.optional(),
  refresh_token: booleanString.optional(),
  refresh_github_app_jwt_token: booleanString.optional(),
});
const keyQuery = z.strictObject({ provider_config_key: UNIQUE_KEY });
const patchBody = z.strictObject({
  metadata: jsonObject.optional(),
  connection_config: connectionConfig.optional(),
  tags: tagsSchema.optional(),
  end_user: connectionEndUserSchema.optional(),
  webhook_url_override: webhookUrl.nullable().optional(),
});
const listQuery = z.looseObject({
  connectionId: CONNECTION_ID.optional(),
  search: z.string().max(255).optional(),
  endUserId: z.string().max(255).optional(),
  integrationId: z.string().max(4096).optional(),
  // A Patchbay addition (camelCase like its neighbours): the dashboard's status filter.
  refreshStatus: z.enum(['ok', 'failing', 'exhausted']).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  // page × limit is the SQL OFFSET: a million pages of the largest limit is beyond any real table
  // and stays an exact integer inside PostgreSQL's bigint, which 2^53-1 pages of 10 000 overflow.
  page: z.coerce.number().int().min(0).max(1_000_000).default(0),
});
const metadataBody = z.strictObject({
  connection_id: z.union([CONNECTION_ID, z.array(CONNECTION_ID).min(1).max(1000)]),
  provider_config_key: UNIQUE_KEY,
  metadata: jsonObject,
});

function storedCredentials(input: z.infer<typeof credentialsSchema>): ConnectionCredentials {
  switch (input.type) {
    case 'OAUTH2': {
      const { type, access_token, refresh_token, expires_at, config_override } = input;
      const raw: Record<string, unknown> = { access_token, ...(refresh_token ? { refresh_token } : {}) };
      if (expires_at) raw.expires_at = expires_at.toISOString();
      return { type, access_token, refresh_token, expires_at: expires_at?.toISOString(), config_override, raw };
    }
    case 'OAUTH2_CC': {
      // Without a token (or its expiry) the first proxy call fetches one with the client credentials.
      const { type, client_id, client_secret } = input;
      return { type, token: input.token ?? '', client_id, client_secret, expires_at: input.expires_at?.toISOString(), raw: {} };
    }
    default:
      return input;
  }
}

/**
 * Reads `tags[key]=value` pairs from the raw query object (fastify's parser keeps them flat),
 * held to the rules of stored tags. A repeated pair comes as an array and is refused.
 */
function parseTagFilter(query: Record<string, unknown>): Record<string, string> {
  return parseInput(tagsSchema, bracketedQuery(query, 'tags'), 'invalid_query_params');
}

/** How a connection's credentials are doing, as the dashboard and `refreshStatus` name it. */
export function refreshStatusOf(connection: Connection): 'ok' | 'failing' | 'exhausted' {
  if (connection.refreshExhausted) return 'exhausted';
  return connection.lastRefreshFailure === null ? 'ok' : 'failing';
}

export interface ConnectionRouteDeps {
  store: Store;
  catalog: Catalog;
  events: ConnectionEvents;
  refresher: CredentialsRefresher | undefined;
  /** Checks API_KEY and BASIC credentials with the provider before they are stored. */
  verification: VerifyDeps;
}

export function connectionRoutes(app: FastifyInstance, deps: ConnectionRouteDeps): void {
  const { store, catalog, events } = deps;

  const findOrThrow = async (providerConfigKey: string, connectionId: string) => {
    const connection = await store.connections.get(providerConfigKey, connectionId);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    return connection;
  };

  const bounded = { bodyLimit: MAX_CONNECTION_BODY_BYTES };

  app.post('/connections', bounded, async (request, reply) => {
    const body = parseInput(createBody, request.body, 'invalid_body');
    const integration = await store.integrations.getByKey(body.provider_config_key);
    if (integration === undefined) throw new PatchbayError('not_found', { message: 'Integration does not exist' });
    const provider = catalog.get(integration.provider);
    if (provider === undefined) throw new PatchbayError('unknown_provider');
    if (provider.authMode !== body.credentials.type) {
      throw validationError('invalid_body', [
        {
          code: 'invalid_enum_value',
          message: `Provider ${integration.provider} does not support ${body.credentials.type} auth`,
          path: ['credentials', 'type'],
        },
      ]);
    }
    const connectionId = body.connection_id ?? randomUUID();
    const credentials = storedCredentials(body.credentials);
    if (body.verify !== false) {
      await verifyCredentials(deps.verification, { provider, integration, connectionId, connectionConfig: body.connection_config ?? {}, credentials });
    }
    const { connection } = await store.connections.upsert({
      integrationId: integration.id,
      connectionId,
      credentials,
      connectionConfig: body.connection_config,
      metadata: body.metadata,
      tags: body.tags,
      endUser: body.end_user,
      webhookUrlOverride: body.webhook_url_override,
    });
    events.changed(integration.uniqueKey, connectionId);
    return reply.status(201).send(isSessionRequest(request) ? toRedactedConnection(connection) : toFullConnection(connection, true));
  });

  app.get('/connections', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    const connections = await store.connections.list({
      connectionId: query.connectionId,
      search: query.search,
      endUserId: query.endUserId,
      integrationKeys: query.integrationId?.split(',').filter((key) => key !== ''),
      tags: parseTagFilter(request.query as Record<string, unknown>),
      refreshStatus: query.refreshStatus,
      limit: query.limit,
      offset: query.page * query.limit,
    });
    return { connections: connections.map((connection) => ({ ...toPublicConnection(connection), refresh_status: refreshStatusOf(connection) })) };
  });

  app.get('/connections/:connectionId', async (request) => {
    // Its answer is the credentials (refreshed on the way): the dashboard reads /summary instead.
    refuseSessionCredentials(request);
    const { connectionId } = parseInput(idParams, request.params, 'invalid_uri_params');
    const query = parseInput(getQuery, request.query, 'invalid_query_params');
    if ((await store.integrations.getByKey(query.provider_config_key)) === undefined) {
      throw new PatchbayError('unknown_provider_config');
    }
    let connection = await findOrThrow(query.provider_config_key, connectionId);
    if (deps.refresher !== undefined) {
      connection = await deps.refresher.fresh(connection, { force: query.force_refresh ?? false });
    }
    await store.connections.touchFetched(connection.id);
    return toFullConnection(connection, query.refresh_token ?? false);
  });

  app.patch('/connections/:connectionId', bounded, async (request) => {
    const { connectionId } = parseInput(idParams, request.params, 'invalid_uri_params');
    const { provider_config_key } = parseInput(keyQuery, request.query, 'invalid_query_params');
    const body = parseInput(patchBody, request.body, 'invalid_body');
    const connection = await store.connections.update(provider_config_key, connectionId, {
      metadata: body.metadata,
      connectionConfig: body.connection_config,
      tags: body.tags,
      endUser: body.end_user,
      webhookUrlOverride: body.webhook_url_override,
    });
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    events.changed(provider_config_key, connectionId);
    return isSessionRequest(request) ? toRedactedConnection(connection) : toFullConnection(connection);
  });

  app.delete('/connections/:connectionId', async (request) => {
    const { connectionId } = parseInput(idParams, request.params, 'invalid_uri_params');
    const { provider_config_key } = parseInput(keyQuery, request.query, 'invalid_query_params');
    if (!(await store.connections.remove(provider_config_key, connectionId))) throw new PatchbayError('unknown_connection');
    events.changed(provider_config_key, connectionId);
    return { success: true };
  });

  const writeMetadata = (merge: boolean) => async (request: { body: unknown }) => {
    const body = parseInput(metadataBody, request.body, 'invalid_body');
    const ids = Array.isArray(body.connection_id) ? body.connection_id : [body.connection_id];
    const { missing } = await store.connections.writeMetadata(body.provider_config_key, ids, body.metadata, merge);
    if (missing.length > 0) {
      throw new PatchbayError('unknown_connection', { message: `Connection not found: ${missing.join(', ')}` });
    }
    for (const id of ids) events.changed(body.provider_config_key, id);
    return { connection_id: body.connection_id, provider_config_key: body.provider_config_key, metadata: body.metadata };
  };
  app.post('/connections/metadata', bounded, writeMetadata(false));
  app.patch('/connections/metadata', bounded, writeMetadata(true));
}
