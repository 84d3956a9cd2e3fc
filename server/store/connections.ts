// SQL for the connections table. Credentials are sealed (AES-256-GCM) before they reach a row
// and opened only when a connection is read back; no other column holds secret text.
import type { Cipher } from '../credentials/cipher.js';
import { PatchbayError } from '../errors.js';
import type { Queryable } from './db.js';

/**
 * Metadata goes out whole with every connection of a list (1 000 a page by default) and into
 * every function run; unbounded, one 70 MB write made each list answer 73 MB for minutes.
 * 64 KiB is far above what apps keep there (ids, settings, cursors). Measured as the JSON text
 * PostgreSQL stores (`jsonb::text`), so that a replace and a merge are measured alike; that text
 * is never shorter than JSON.stringify's, which lets `checkMetadataSize` refuse early.
 */
export const MAX_METADATA_BYTES = 64 * 1024;

/** A connection's credentials, in the field names of Nango's API (they go out on the wire as is). */
export type ConnectionCredentials =
  | {
      type: 'OAUTH2';
      access_token: string;
      refresh_token?: string | undefined;
      expires_at?: string | undefined;
      config_override?: { client_id?: string | undefined; client_secret?: string | undefined } | undefined;
      raw: Record<string, unknown>;
    }
  | {
      type: 'OAUTH2_CC';
      token: string;
      client_id: string;
      client_secret: string;
      expires_at?: string | undefined;
      raw: Record<string, unknown>;
    }
  | { type: 'API_KEY'; apiKey: string }
  | { type: 'BASIC'; username: string; password: string }
  | { type: 'NONE' };

export interface EndUser {
  id: string;
  email?: string | null | undefined;
  display_name?: string | null | undefined;
  tags?: Record<string, string> | null | undefined;
  /** The end user's organization, as a Connect session named it. */
  organization?: { id: string; display_name?: string | null | undefined } | null | undefined;
}

export interface RefreshState {
  lastRefreshSuccess: Date | null;
  lastRefreshFailure: Date | null;
  refreshAttempts: number;
  refreshExhausted: boolean;
}

export interface Connection extends RefreshState {
  id: number;
  connectionId: string;
  integrationId: number;
  providerConfigKey: string;
  provider: string;
  credentials: ConnectionCredentials;
  connectionConfig: Record<string, unknown>;
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  endUser: EndUser | null;
  webhookUrlOverride: string | null;
  lastFetchedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ConnectionInput {
  integrationId: number;
  connectionId: string;
  credentials: ConnectionCredentials;
  connectionConfig?: Record<string, unknown> | undefined;
  metadata?: Record<string, unknown> | undefined;
  tags?: Record<string, string> | undefined;
  endUser?: EndUser | undefined;
  webhookUrlOverride?: string | undefined;
}

export interface ConnectionFilter {
  connectionId?: string | undefined;
  search?: string | undefined;
  endUserId?: string | undefined;
  integrationKeys?: string[] | undefined;
  tags?: Record<string, string> | undefined;
  /** ok: no failed refresh since the last success; failing: failed, still retried; exhausted: given up. */
  refreshStatus?: 'ok' | 'failing' | 'exhausted' | undefined;
  limit: number;
  offset: number;
}

export interface ConnectionPatch {
  connectionConfig?: Record<string, unknown> | undefined;
  metadata?: Record<string, unknown> | undefined;
  tags?: Record<string, string> | undefined;
  endUser?: EndUser | undefined;
  webhookUrlOverride?: string | null | undefined;
}

interface ConnectionRow {
  id: number;
  connection_id: string;
  integration_id: number;
  provider_config_key: string;
  provider: string;
  credentials_enc: Buffer;
  connection_config: Record<string, unknown>;
  metadata: Record<string, unknown>;
  tags: Record<string, string>;
  end_user: EndUser | null;
  webhook_url_override: string | null;
  last_fetched_at: Date | null;
  last_refresh_success: Date | null;
  last_refresh_failure: Date | null;
  refresh_attempts: number;
  refresh_exhausted: boolean;
  created_at: Date;
  updated_at: Date;
}

const SELECT = `SELECT c.id, c.connection_id, c.integration_id, i.unique_key AS provider_config_key, i.provider,
  c.credentials_enc, c.connection_config, c.metadata, c.tags, c.end_user, c.webhook_url_override, c.last_fetched_at,
  c.last_refresh_success, c.last_refresh_failure, c.refresh_attempts, c.refresh_exhausted, c.created_at, c.updated_at
  FROM connections c JOIN integrations i ON i.id = c.integration_id`;

export function expiresAtOf(credentials: ConnectionCredentials): Date | null {
  if ((credentials.type === 'OAUTH2' || credentials.type === 'OAUTH2_CC') && credentials.expires_at) {
    return new Date(credentials.expires_at);
  }
  return null;
}

export interface ConnectionStore {
  /**
   * Creates the connection, or replaces credentials and settings of an existing one (Nango's
   * upsert). Here, in `update` and in `writeMetadata`, metadata over MAX_METADATA_BYTES throws
   * `metadata_too_large`: the store is the one place every writer (routes, functions) passes.
   */
  upsert(input: ConnectionInput): Promise<{ connection: Connection; created: boolean }>;
  get(providerConfigKey: string, connectionId: string): Promise<Connection | undefined>;
  /** The connection's provider, or undefined when there is no such connection (no decryption). */
  providerOf(providerConfigKey: string, connectionId: string): Promise<string | undefined>;
  /**
   * Reads the row under `FOR UPDATE`, waiting at most `lockTimeoutMs` for the lock (`SET LOCAL
   * lock_timeout`, in force to the end of the transaction): only inside a transaction, to
   * serialise refreshes.
   */
  getForUpdate(id: number, options: { lockTimeoutMs: number }): Promise<Connection | undefined>;
  list(filter: ConnectionFilter): Promise<Connection[]>;
  update(providerConfigKey: string, connectionId: string, patch: ConnectionPatch): Promise<Connection | undefined>;
  /**
   * Replaces (`merge: false`) or merges metadata on every named connection, all or none:
   * when one of them does not exist nothing is written and the missing ids come back; when one
   * result would be over MAX_METADATA_BYTES nothing is written and `metadata_too_large` is thrown.
   */
  writeMetadata(
    providerConfigKey: string,
    connectionIds: string[],
    metadata: Record<string, unknown>,
    merge: boolean,
  ): Promise<{ missing: string[] }>;
  remove(providerConfigKey: string, connectionId: string): Promise<boolean>;
  saveRefreshedCredentials(id: number, credentials: ConnectionCredentials): Promise<void>;
  saveRefreshFailure(id: number, exhaustAfterAttempts: number): Promise<void>;
  /** Connections whose last refresh failed and is still retried, and those given up. */
  countRefreshProblems(): Promise<{ failing: number; exhausted: number }>;
  touchFetched(id: number): Promise<void>;
}

function metadataTooLarge(bytes: number): PatchbayError {
  return new PatchbayError('metadata_too_large', {
    message: `Connection metadata is limited to ${MAX_METADATA_BYTES} bytes of JSON; this write would store ${bytes}.`,
  });
}

/** Refuses, before any round trip, metadata whose JSON alone is over the bound. */
function checkMetadataSize(metadata: Record<string, unknown>): void {
  const bytes = Buffer.byteLength(JSON.stringify(metadata));
  if (bytes > MAX_METADATA_BYTES) throw metadataTooLarge(bytes);
}

export function createConnectionStore(db: Queryable, cipher: Cipher): ConnectionStore {
  /** Refuses metadata over the bound as PostgreSQL will store it (numbers written out in full). */
  const checkStoredMetadataSize = async (metadata: Record<string, unknown> | undefined) => {
    if (metadata === undefined) return;
    checkMetadataSize(metadata);
    const { rows } = await db.query<{ bytes: number }>('SELECT octet_length($1::jsonb::text) AS bytes', [metadata]);
    const bytes = rows[0]?.bytes ?? 0;
    if (bytes > MAX_METADATA_BYTES) throw metadataTooLarge(bytes);
  };

  const toConnection = (row: ConnectionRow): Connection => ({
    id: row.id,
    connectionId: row.connection_id,
    integrationId: row.integration_id,
    providerConfigKey: row.provider_config_key,
    provider: row.provider,
    credentials: cipher.open<ConnectionCredentials>(row.credentials_enc),
    connectionConfig: row.connection_config,
    metadata: row.metadata,
    tags: row.tags,
    endUser: row.end_user,
    webhookUrlOverride: row.webhook_url_override,
    lastFetchedAt: row.last_fetched_at,
    lastRefreshSuccess: row.last_refresh_success,
    lastRefreshFailure: row.last_refresh_failure,
    refreshAttempts: row.refresh_attempts,
    refreshExhausted: row.refresh_exhausted,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  const getById = async (id: number, lock: boolean) => {
    const { rows } = await db.query<ConnectionRow>(`${SELECT} WHERE c.id = $1${lock ? ' FOR UPDATE OF c' : ''}`, [id]);
    return rows[0] ? toConnection(rows[0]) : undefined;
  };

  return {
    async upsert(input) {
      await checkStoredMetadataSize(input.metadata);
      const { rows } = await db.query<{ id: number; created: boolean }>(
        `INSERT INTO connections (integration_id, connection_id, credentials_type, credentials_enc, credentials_expires_at,
           connection_config, metadata, tags, end_user, webhook_url_override)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (integration_id, connection_id) DO UPDATE SET
           credentials_type = EXCLUDED.credentials_type,
           credentials_enc = EXCLUDED.credentials_enc,
           credentials_expires_at = EXCLUDED.credentials_expires_at,
           connection_config = EXCLUDED.connection_config,
           metadata = EXCLUDED.metadata,
           tags = EXCLUDED.tags,
           end_user = EXCLUDED.end_user,
           webhook_url_override = EXCLUDED.webhook_url_override,
           last_refresh_failure = NULL, refresh_attempts = 0, refresh_exhausted = false,
           updated_at = now()
         RETURNING id, (xmax = 0) AS created`,
        [
          input.integrationId,
          input.connectionId,
          input.credentials.type,
          cipher.seal(input.credentials),
          expiresAtOf(input.credentials),
          input.connectionConfig ?? {},
          input.metadata ?? {},
          input.tags ?? {},
          input.endUser ?? null,
          input.webhookUrlOverride ?? null,
        ],
      );
      const row = rows[0] as { id: number; created: boolean };
      return { connection: (await getById(row.id, false)) as Connection, created: row.created };
    },
    async get(providerConfigKey, connectionId) {
      const { rows } = await db.query<ConnectionRow>(`${SELECT} WHERE i.unique_key = $1 AND c.connection_id = $2`, [
        providerConfigKey,
        connectionId,
      ]);
      return rows[0] ? toConnection(rows[0]) : undefined;
    },
    async providerOf(providerConfigKey, connectionId) {
      const { rows } = await db.query<{ provider: string }>(
        'SELECT i.provider FROM connections c JOIN integrations i ON i.id = c.integration_id WHERE i.unique_key = $1 AND c.connection_id = $2',
        [providerConfigKey, connectionId],
      );
      return rows[0]?.provider;
    },
    async getForUpdate(id, { lockTimeoutMs }) {
      // SET takes no parameters: the number is written into the statement, so it must be one.
      if (!Number.isSafeInteger(lockTimeoutMs) || lockTimeoutMs < 0) throw new RangeError(`lock timeout ${lockTimeoutMs} ms is not a whole number of milliseconds`);
      await db.query(`SET LOCAL lock_timeout = ${lockTimeoutMs}`);
      return getById(id, true);
    },
    async list(filter) {
      const where: string[] = [];
      const params: unknown[] = [];
      const add = (sql: string, value: unknown) => {
        params.push(value);
        where.push(sql.replace('?', `$${params.length}`));
      };
      if (filter.connectionId !== undefined) add('c.connection_id = ?', filter.connectionId);
      if (filter.search !== undefined) {
        params.push(filter.search.replace(/[%_\\]/g, '\\$&'));
        const pattern = `'%' || $${params.length} || '%'`;
        // Nango searches the connection id and the end user's profile; tag values too here, so
        // the dashboard's search box finds a connection by any name people give it.
        where.push(
          `(c.connection_id ILIKE ${pattern}
            OR concat_ws(' ', c.end_user->>'id', c.end_user->>'email', c.end_user->>'display_name',
                 c.end_user->'organization'->>'id', c.end_user->'organization'->>'display_name') ILIKE ${pattern}
            OR EXISTS (SELECT 1 FROM jsonb_each_text(c.tags) AS tag WHERE tag.value ILIKE ${pattern}))`,
        );
      }
      if (filter.refreshStatus === 'ok') where.push('c.last_refresh_failure IS NULL AND NOT c.refresh_exhausted');
      else if (filter.refreshStatus === 'failing') where.push('c.last_refresh_failure IS NOT NULL AND NOT c.refresh_exhausted');
      else if (filter.refreshStatus === 'exhausted') where.push('c.refresh_exhausted');
      if (filter.endUserId !== undefined) add("c.end_user->>'id' = ?", filter.endUserId);
      if (filter.integrationKeys !== undefined) add('i.unique_key = ANY(?)', filter.integrationKeys);
      if (filter.tags !== undefined && Object.keys(filter.tags).length > 0) add('c.tags @> ?', filter.tags);
      params.push(filter.limit, filter.offset);
      const { rows } = await db.query<ConnectionRow>(
        `${SELECT} ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
         ORDER BY c.created_at, c.id LIMIT $${params.length - 1} OFFSET $${params.length}`,
        params,
      );
      return rows.map(toConnection);
    },
    async update(providerConfigKey, connectionId, patch) {
      await checkStoredMetadataSize(patch.metadata);
      const { rows } = await db.query<{ id: number }>(
        `UPDATE connections c SET
           connection_config = COALESCE($3, c.connection_config),
           metadata = COALESCE($4, c.metadata),
           tags = COALESCE($5, c.tags),
           end_user = COALESCE($6, c.end_user),
           webhook_url_override = CASE WHEN $7::boolean THEN $8 ELSE c.webhook_url_override END,
           updated_at = now()
         FROM integrations i
         WHERE i.id = c.integration_id AND i.unique_key = $1 AND c.connection_id = $2
         RETURNING c.id`,
        [
          providerConfigKey,
          connectionId,
          patch.connectionConfig ?? null,
          patch.metadata ?? null,
          patch.tags ?? null,
          patch.endUser ?? null,
          patch.webhookUrlOverride !== undefined,
          patch.webhookUrlOverride ?? null,
        ],
      );
      return rows[0] ? getById(rows[0].id, false) : undefined;
    },
    async writeMetadata(providerConfigKey, connectionIds, metadata, merge) {
      // A merge is never smaller than what it merges in, so this holds for both.
      checkMetadataSize(metadata);
      const ids = [...new Set(connectionIds)];
      // One statement: the UPDATE only runs when every id exists and every result fits, so a
      // typo or one full connection never half-applies. The rows are locked (in id order, so two
      // writers cannot deadlock) while the merged value is measured, so what is measured is
      // what is written.
      const { rows } = await db.query<{ connection_id: string; largest: number }>(
        `WITH target AS (
           SELECT c.id, c.connection_id, ${merge ? 'c.metadata || $3::jsonb' : '$3::jsonb'} AS metadata
           FROM connections c JOIN integrations i ON i.id = c.integration_id
           WHERE i.unique_key = $1 AND c.connection_id = ANY($2)
           ORDER BY c.id FOR UPDATE OF c
         ), checked AS (
           SELECT count(*) = cardinality($2::text[]) AS complete, coalesce(max(octet_length(metadata::text)), 0) AS largest FROM target
         ), updated AS (
           UPDATE connections c SET metadata = target.metadata, updated_at = now()
           FROM target, checked WHERE c.id = target.id AND checked.complete AND checked.largest <= $4
           RETURNING c.id
         )
         SELECT target.connection_id, checked.largest FROM target, checked`,
        [providerConfigKey, ids, metadata, MAX_METADATA_BYTES],
      );
      const found = new Set(rows.map((row) => row.connection_id));
      const missing = ids.filter((id) => !found.has(id));
      const largest = rows[0]?.largest ?? 0;
      if (missing.length === 0 && largest > MAX_METADATA_BYTES) throw metadataTooLarge(largest);
      return { missing };
    },
    async remove(providerConfigKey, connectionId) {
      const { rowCount } = await db.query(
        `DELETE FROM connections c USING integrations i
         WHERE i.id = c.integration_id AND i.unique_key = $1 AND c.connection_id = $2`,
        [providerConfigKey, connectionId],
      );
      return (rowCount ?? 0) > 0;
    },
    async saveRefreshedCredentials(id, credentials) {
      await db.query(
        `UPDATE connections SET credentials_enc = $2, credentials_type = $3, credentials_expires_at = $4,
           last_refresh_success = now(), last_refresh_failure = NULL, refresh_attempts = 0, refresh_exhausted = false,
           updated_at = now()
         WHERE id = $1`,
        [id, cipher.seal(credentials), credentials.type, expiresAtOf(credentials)],
      );
    },
    async saveRefreshFailure(id, exhaustAfterAttempts) {
      // Attempts count at most once per day (as Nango): a provider outage of an hour must not
      // exhaust a connection, a refresh token revoked for days must.
      await db.query(
        `UPDATE connections SET
           refresh_attempts = refresh_attempts + CASE WHEN last_refresh_failure::date = now()::date THEN 0 ELSE 1 END,
           refresh_exhausted = refresh_attempts + CASE WHEN last_refresh_failure::date = now()::date THEN 0 ELSE 1 END >= $2,
           last_refresh_failure = now()
         WHERE id = $1`,
        [id, exhaustAfterAttempts],
      );
    },
    async countRefreshProblems() {
      const { rows } = await db.query<{ failing: number; exhausted: number }>(
        `SELECT count(*) FILTER (WHERE NOT refresh_exhausted)::int AS failing, count(*) FILTER (WHERE refresh_exhausted)::int AS exhausted
         FROM connections WHERE last_refresh_failure IS NOT NULL OR refresh_exhausted`,
      );
      return rows[0] ?? { failing: 0, exhausted: 0 };
    },
    async touchFetched(id) {
      await db.query('UPDATE connections SET last_fetched_at = now() WHERE id = $1', [id]);
    },
  };
}
