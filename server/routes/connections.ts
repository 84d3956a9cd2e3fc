// /connections: import with existing credentials, list, read, patch, metadata, delete (contract §9).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { randomUUID } from 'node:crypto';
import { PatchbayError, validationError } from '../errors.js';
import type { Catalog } from '../providers/catalog.js';
import { toConnectionDetails, toPublicConnection } from '../connection-json.js';
import type { Connection, ConnectionCredentials, Store } from '../store/index.js';
import { parseInput } from '../validate.js';
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

const CONNECTION_ID = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[^\u0000-\u001f\u007f]+$/, 'must not contain control characters');
const token = z.string().min(1).max(16384);
const isoDate = z.coerce.date().refine((d) => !Number.isNaN(d.getTime()), 'must be a date');
const stringMap = z.record(z.string(), z.string());
const jsonObject = z.record(z.string(), z.unknown());

const credentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('OAUTH2'),
    access_token: token,
    refresh_token: token.optional(),
    expires_at: isoDate.optional(),
    config_override: z.strictObject({ client_id: z.string().optional(), client_secret: z.string().optional() }).optional(),
  }),
  z.strictObject({
    type: z.literal('OAUTH2_CC'),
    token: token.optional(),
    client_id: z.string().min(1).max(4096),
    client_secret: z.string().min(1).max(4096),
    expires_at: isoDate.optional(),
  }),
  z.strictObject({ type: z.literal('API_KEY'), apiKey: z.string().min(1).max(1024) }),
  z.strictObject({ type: z.literal('BASIC'), username: z.string().max(1024), password: z.string().max(1024) }),
  z.strictObject({ type: z.literal('NONE') }),
]);

const endUserSchema = z.strictObject({
  id: z.string().min(1).max(255),
  email: z.string().max(255).nullish(),
  display_name: z.string().max(255).nullish(),
  tags: stringMap.nullish(),
});

const createBody = z.strictObject({
  provider_config_key: UNIQUE_KEY,
  connection_id: CONNECTION_ID.optional(),
  metadata: jsonObject.optional(),
  connection_config: jsonObject.optional(),
  webhook_url_override: z.url().optional(),
  end_user: endUserSchema.optional(),
  tags: stringMap.optional(),
  credentials: credentialsSchema,
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
  connection_config: jsonObject.optional(),
  tags: stringMap.optional(),
  end_user: endUserSchema.optional(),
  webhook_url_override: z.url().nullable().optional(),
});
const listQuery = z.looseObject({
  connectionId: CONNECTION_ID.optional(),
  search: z.string().max(255).optional(),
  endUserId: z.string().max(255).optional(),
  integrationId: z.string().max(4096).optional(),
  limit: z.coerce.number().int().min(1).max(10_000).default(1000),
  page: z.coerce.number().int().min(0).default(0),
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

function publicCredentials(credentials: ConnectionCredentials, withRefreshToken: boolean) {
  if (credentials.type === 'OAUTH2' && !withRefreshToken) {
    const { refresh_token: _hidden, ...rest } = credentials;
    return rest;
  }
  return credentials;
}

export function toFullConnection(connection: Connection, withRefreshToken = false) {
  return { ...toConnectionDetails(connection), credentials: publicCredentials(connection.credentials, withRefreshToken) };
}

/** Reads `tags[key]=value` pairs from the raw query object (fastify's parser keeps them flat). */
function parseTagFilter(query: Record<string, unknown>): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const [name, value] of Object.entries(query)) {
    const match = /^tags\[(.+)\]$/.exec(name);
    if (match?.[1] && typeof value === 'string') tags[match[1]] = value;
  }
  return tags;
}

export interface ConnectionRouteDeps {
  store: Store;
  catalog: Catalog;
  events: ConnectionEvents;
  refresher: CredentialsRefresher | undefined;
}

export function connectionRoutes(app: FastifyInstance, deps: ConnectionRouteDeps): void {
  const { store, catalog, events } = deps;

  const findOrThrow = async (providerConfigKey: string, connectionId: string) => {
    const connection = await store.connections.get(providerConfigKey, connectionId);
    if (connection === undefined) throw new PatchbayError('unknown_connection');
    return connection;
  };

  app.post('/connections', async (request, reply) => {
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
    const { connection } = await store.connections.upsert({
      integrationId: integration.id,
      connectionId,
      credentials: storedCredentials(body.credentials),
      connectionConfig: body.connection_config,
      metadata: body.metadata,
      tags: body.tags,
      endUser: body.end_user,
      webhookUrlOverride: body.webhook_url_override,
    });
    events.changed(integration.uniqueKey, connectionId);
    return reply.status(201).send(toFullConnection(connection, true));
  });

  app.get('/connections', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    const connections = await store.connections.list({
      connectionId: query.connectionId,
      search: query.search,
      endUserId: query.endUserId,
      integrationKeys: query.integrationId?.split(',').filter((key) => key !== ''),
      tags: parseTagFilter(request.query as Record<string, unknown>),
      limit: query.limit,
      offset: query.page * query.limit,
    });
    return { connections: connections.map(toPublicConnection) };
  });

  app.get('/connections/:connectionId', async (request) => {
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

  app.patch('/connections/:connectionId', async (request) => {
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
    return toFullConnection(connection);
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
  app.post('/connections/metadata', writeMetadata(false));
  app.patch('/connections/metadata', writeMetadata(true));
}
