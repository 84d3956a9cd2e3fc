// /integrations: create, list, read, update and delete integrations, as Nango's API does.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PatchbayError, validationError } from '../errors.js';
import type { Catalog } from '../providers/catalog.js';
import { isUniqueViolation, type Integration, type IntegrationCredentials, type Store } from '../store/index.js';
import { isSessionRequest } from '../plugins/auth.js';
import { mapKey, parseInput } from '../validate.js';
import type { ConnectionEvents } from './connections.js';
import { keyCursorSchema, toKeyCursor } from './position-cursor.js';

export const UNIQUE_KEY = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[a-zA-Z0-9~:.@ _-]+$/, 'may only contain letters, digits and ~:.@ _-');

const secret = z.string().min(1).max(4096);
const credentialsSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.enum(['OAUTH1', 'OAUTH2', 'TBA']),
    client_id: secret,
    client_secret: secret,
    scopes: z.string().max(4096).optional(),
    webhook_secret: z.string().max(4096).optional(),
  }),
  z.strictObject({ type: z.literal('APP'), app_id: secret, app_link: secret, private_key: z.string().min(1).max(16384) }),
  z.strictObject({
    type: z.literal('CUSTOM'),
    client_id: secret,
    client_secret: secret,
    app_id: secret,
    app_link: secret,
    private_key: z.string().min(1).max(16384),
  }),
]);
const stringMap = z.record(mapKey, z.string());
/** Integration bodies hold keys, names and secrets of a few KB: 1 MiB, not the proxy's 75 MB. */
const MAX_INTEGRATION_BODY_BYTES = 1024 * 1024;

const createBody = z.strictObject({
  provider: z.string().min(1).max(255),
  unique_key: UNIQUE_KEY,
  display_name: z.string().min(1).max(255).optional(),
  credentials: credentialsSchema.optional(),
  forward_webhooks: z.boolean().optional(),
  // Patchbay's own setting: this integration's functions may read its connections' credentials.
  functions_can_read_credentials: z.boolean().optional(),
  integration_config: stringMap.optional(),
  custom: stringMap.optional(),
});
const patchBody = createBody.omit({ provider: true }).partial();
const keyParams = z.strictObject({ uniqueKey: UNIQUE_KEY });
const getQuery = z.strictObject({
  include: z
    .union([z.string(), z.array(z.string())])
    .transform((v) => (Array.isArray(v) ? v : v.split(',')))
    .pipe(z.array(z.enum(['credentials', 'webhook'])))
    .optional(),
});

const DEFAULT_PAGE = 100;
/**
 * GET /integrations' paging (Patchbay's own): with `limit` or `cursor`, a page in creation order
 * and `next_cursor`. Other parameters are ignored, as they always were.
 */
const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  cursor: keyCursorSchema((key) => (key.length === 1 && Number.isSafeInteger(key[0]) && (key[0] as number) > 0 ? (key[0] as number) : undefined)).optional(),
});

/** `credentials`: true, the values; 'outline', what is set but no secret; false, none. */
export function toPublicIntegration(integration: Integration, catalog: Catalog, withCredentials: boolean | 'outline' = false) {
  const provider = catalog.get(integration.provider);
  return {
    unique_key: integration.uniqueKey,
    provider: integration.provider,
    display_name: integration.displayName ?? provider?.displayName ?? integration.provider,
    logo: `/images/template-logos/${integration.provider}.svg`,
    forward_webhooks: integration.forwardWebhooks,
    functions_can_read_credentials: integration.functionsCanReadCredentials,
    created_at: integration.createdAt.toISOString(),
    updated_at: integration.updatedAt.toISOString(),
    ...(withCredentials === true ? { credentials: publicCredentials(integration.credentials) } : {}),
    ...(withCredentials === 'outline' ? { credentials: credentialsOutline(integration.credentials) } : {}),
  };
}

function publicCredentials(credentials: IntegrationCredentials | null) {
  if (credentials === null) return null;
  if (credentials.type === 'APP') return credentials;
  if (credentials.type === 'CUSTOM') return credentials;
  return {
    type: credentials.type,
    client_id: credentials.client_id,
    client_secret: credentials.client_secret,
    scopes: credentials.scopes ?? null,
    webhook_secret: credentials.webhook_secret ?? null,
  };
}

/** The integration's credentials without a secret: ids, scopes and which secrets are set. */
function credentialsOutline(credentials: IntegrationCredentials | null) {
  if (credentials === null) return null;
  if (credentials.type === 'APP') return { type: credentials.type, app_id: credentials.app_id, app_link: credentials.app_link, private_key_set: true };
  if (credentials.type === 'CUSTOM') {
    return { type: credentials.type, client_id: credentials.client_id, app_id: credentials.app_id, app_link: credentials.app_link, client_secret_set: true, private_key_set: true };
  }
  return {
    type: credentials.type,
    client_id: credentials.client_id,
    scopes: credentials.scopes ?? null,
    client_secret_set: true,
    webhook_secret_set: (credentials.webhook_secret ?? '') !== '',
  };
}

function duplicateKey(): PatchbayError {
  return validationError('invalid_body', [{ code: 'invalid_string', message: 'uniqueKey is already used', path: ['unique_key'] }]);
}

export function integrationRoutes(app: FastifyInstance, deps: { store: Store; catalog: Catalog; events: ConnectionEvents }): void {
  const { store, catalog, events } = deps;

  const checkCredentialsFit = (providerKey: string, credentials: IntegrationCredentials | undefined) => {
    const provider = catalog.get(providerKey);
    if (provider === undefined) {
      const skipped = catalog.whySkipped(providerKey);
      const message = skipped === undefined ? `Unknown provider '${providerKey}'` : `Provider '${providerKey}' was skipped when the providers file was loaded: ${skipped}`;
      throw validationError('invalid_body', [{ code: 'invalid_enum_value', message, path: ['provider'] }]);
    }
    if (credentials !== undefined && credentials.type !== provider.authMode) {
      throw validationError('invalid_body', [
        {
          code: 'invalid_enum_value',
          message: `Provider ${providerKey} uses ${provider.authMode}, not ${credentials.type} credentials`,
          path: ['credentials', 'type'],
        },
      ]);
    }
  };

  app.post('/integrations', { bodyLimit: MAX_INTEGRATION_BODY_BYTES }, async (request) => {
    const body = parseInput(createBody, request.body, 'invalid_body');
    checkCredentialsFit(body.provider, body.credentials);
    try {
      const integration = await store.integrations.insert({
        uniqueKey: body.unique_key,
        provider: body.provider,
        displayName: body.display_name,
        credentials: body.credentials,
        forwardWebhooks: body.forward_webhooks,
        functionsCanReadCredentials: body.functions_can_read_credentials,
        integrationConfig: body.integration_config,
        custom: body.custom,
      });
      return { data: toPublicIntegration(integration, catalog) };
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateKey();
      throw error;
    }
  });

  app.get('/integrations', async (request) => {
    const query = parseInput(listQuery, request.query, 'invalid_query_params');
    // Without paging parameters, the whole list as Nango answers it.
    if (query.limit === undefined && query.cursor === undefined) {
      const integrations = await store.integrations.list();
      return { data: integrations.map((integration) => toPublicIntegration(integration, catalog)) };
    }
    const limit = query.limit ?? DEFAULT_PAGE;
    const integrations = await store.integrations.page({ afterId: query.cursor, limit: limit + 1 });
    const page = integrations.slice(0, limit);
    const last = page.at(-1);
    return {
      data: page.map((integration) => toPublicIntegration(integration, catalog)),
      next_cursor: integrations.length > limit && last !== undefined ? toKeyCursor([last.id]) : null,
    };
  });

  app.get('/integrations/:uniqueKey', async (request) => {
    const { uniqueKey } = parseInput(keyParams, request.params, 'invalid_uri_params');
    const query = parseInput(getQuery, request.query, 'invalid_query_params');
    const withCredentials = query.include?.includes('credentials') ?? false;
    const integration = await store.integrations.getByKey(uniqueKey);
    if (integration === undefined) throw new PatchbayError('not_found', { message: 'Integration does not exist' });
    // Client secrets and private keys go to the secret key only; a dashboard session gets the rest.
    const credentials = !withCredentials ? false : isSessionRequest(request) ? 'outline' : true;
    return { data: toPublicIntegration(integration, catalog, credentials) };
  });

  app.patch('/integrations/:uniqueKey', { bodyLimit: MAX_INTEGRATION_BODY_BYTES }, async (request) => {
    const { uniqueKey } = parseInput(keyParams, request.params, 'invalid_uri_params');
    const body = parseInput(patchBody, request.body, 'invalid_body');
    const existing = await store.integrations.getByKey(uniqueKey);
    if (existing === undefined) throw new PatchbayError('not_found', { message: 'Integration does not exist' });
    checkCredentialsFit(existing.provider, body.credentials);
    try {
      const integration = await store.integrations.update(uniqueKey, {
        uniqueKey: body.unique_key,
        displayName: body.display_name,
        credentials: body.credentials,
        forwardWebhooks: body.forward_webhooks,
        functionsCanReadCredentials: body.functions_can_read_credentials,
        integrationConfig: body.integration_config,
        custom: body.custom,
      });
      if (integration === undefined) throw new PatchbayError('not_found', { message: 'Integration does not exist' });
      events.integrationChanged(uniqueKey);
      return { data: toPublicIntegration(integration, catalog) };
    } catch (error) {
      if (isUniqueViolation(error)) throw duplicateKey();
      throw error;
    }
  });

  app.delete('/integrations/:uniqueKey', async (request) => {
    const { uniqueKey } = parseInput(keyParams, request.params, 'invalid_uri_params');
    if (!(await store.integrations.remove(uniqueKey))) {
      throw new PatchbayError('not_found', { message: 'Integration does not exist' });
    }
    events.integrationChanged(uniqueKey);
    return { success: true };
  });
}
