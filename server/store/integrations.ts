// SQL for the integrations table. Client secrets are sealed before they reach a row.
import type { Cipher } from '../credentials/cipher.js';
import type { Queryable } from './db.js';

/** The integration's own OAuth app credentials, in the field names of Nango's API. */
export type IntegrationCredentials =
  | { type: 'OAUTH1' | 'OAUTH2' | 'TBA'; client_id: string; client_secret: string; scopes?: string | undefined; webhook_secret?: string | undefined }
  | { type: 'APP'; app_id: string; app_link: string; private_key: string }
  | {
      type: 'CUSTOM';
      client_id: string;
      client_secret: string;
      app_id: string;
      app_link: string;
      private_key: string;
    };

export interface Integration {
  id: number;
  uniqueKey: string;
  provider: string;
  displayName: string | null;
  credentials: IntegrationCredentials | null;
  custom: Record<string, string> | null;
  integrationConfig: Record<string, string> | null;
  forwardWebhooks: boolean;
  /** The integration's functions may read its connections' credentials (getToken…); off by default. */
  functionsCanReadCredentials: boolean;
  createdAt: Date;
  updatedAt: Date;
}

export interface IntegrationInput {
  uniqueKey: string;
  provider: string;
  displayName?: string | undefined;
  credentials?: IntegrationCredentials | undefined;
  custom?: Record<string, string> | undefined;
  integrationConfig?: Record<string, string> | undefined;
  forwardWebhooks?: boolean | undefined;
  functionsCanReadCredentials?: boolean | undefined;
}

interface IntegrationRow {
  id: number;
  unique_key: string;
  provider: string;
  display_name: string | null;
  credentials_enc: Buffer | null;
  custom: Record<string, string> | null;
  integration_config: Record<string, string> | null;
  forward_webhooks: boolean;
  functions_can_read_credentials: boolean;
  created_at: Date;
  updated_at: Date;
}

const COLUMNS =
  'id, unique_key, provider, display_name, credentials_enc, custom, integration_config, forward_webhooks, functions_can_read_credentials, created_at, updated_at';

export interface IntegrationStore {
  insert(input: IntegrationInput): Promise<Integration>;
  getByKey(uniqueKey: string): Promise<Integration | undefined>;
  getById(id: number): Promise<Integration | undefined>;
  list(): Promise<Integration[]>;
  /** One page in creation order (by id), after the integration of id `afterId` when given. */
  page(options: { afterId?: number | undefined; limit: number }): Promise<Integration[]>;
  update(uniqueKey: string, patch: Partial<IntegrationInput>): Promise<Integration | undefined>;
  remove(uniqueKey: string): Promise<boolean>;
}

export function createIntegrationStore(db: Queryable, cipher: Cipher): IntegrationStore {
  const toIntegration = (row: IntegrationRow): Integration => ({
    id: row.id,
    uniqueKey: row.unique_key,
    provider: row.provider,
    displayName: row.display_name,
    credentials: row.credentials_enc ? cipher.open<IntegrationCredentials>(row.credentials_enc) : null,
    custom: row.custom,
    integrationConfig: row.integration_config,
    forwardWebhooks: row.forward_webhooks,
    functionsCanReadCredentials: row.functions_can_read_credentials,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  });
  const seal = (credentials: IntegrationCredentials | undefined) => (credentials ? cipher.seal(credentials) : null);

  return {
    async insert(input) {
      const { rows } = await db.query<IntegrationRow>(
        `INSERT INTO integrations (unique_key, provider, display_name, credentials_enc, custom, integration_config, forward_webhooks, functions_can_read_credentials)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
        [
          input.uniqueKey,
          input.provider,
          input.displayName ?? null,
          seal(input.credentials),
          input.custom ?? null,
          input.integrationConfig ?? null,
          input.forwardWebhooks ?? true,
          input.functionsCanReadCredentials ?? false,
        ],
      );
      return toIntegration(rows[0] as IntegrationRow);
    },
    async getByKey(uniqueKey) {
      const { rows } = await db.query<IntegrationRow>(`SELECT ${COLUMNS} FROM integrations WHERE unique_key = $1`, [uniqueKey]);
      return rows[0] ? toIntegration(rows[0]) : undefined;
    },
    async getById(id) {
      const { rows } = await db.query<IntegrationRow>(`SELECT ${COLUMNS} FROM integrations WHERE id = $1`, [id]);
      return rows[0] ? toIntegration(rows[0]) : undefined;
    },
    async list() {
      const { rows } = await db.query<IntegrationRow>(`SELECT ${COLUMNS} FROM integrations ORDER BY created_at, id`);
      return rows.map(toIntegration);
    },
    async page({ afterId, limit }) {
      const { rows } = await db.query<IntegrationRow>(`SELECT ${COLUMNS} FROM integrations WHERE id > $1 ORDER BY id LIMIT $2`, [afterId ?? 0, limit]);
      return rows.map(toIntegration);
    },
    async update(uniqueKey, patch) {
      // COALESCE keeps a column when the patch leaves it out ($n IS NULL); display_name can't be unset.
      const { rows } = await db.query<IntegrationRow>(
        `UPDATE integrations SET
           unique_key = COALESCE($2, unique_key),
           display_name = COALESCE($3, display_name),
           credentials_enc = COALESCE($4, credentials_enc),
           custom = COALESCE($5, custom),
           integration_config = COALESCE($6, integration_config),
           forward_webhooks = COALESCE($7, forward_webhooks),
           functions_can_read_credentials = COALESCE($8, functions_can_read_credentials),
           updated_at = now()
         WHERE unique_key = $1 RETURNING ${COLUMNS}`,
        [
          uniqueKey,
          patch.uniqueKey ?? null,
          patch.displayName ?? null,
          seal(patch.credentials),
          patch.custom ?? null,
          patch.integrationConfig ?? null,
          patch.forwardWebhooks ?? null,
          patch.functionsCanReadCredentials ?? null,
        ],
      );
      return rows[0] ? toIntegration(rows[0]) : undefined;
    },
    async remove(uniqueKey) {
      const { rowCount } = await db.query('DELETE FROM integrations WHERE unique_key = $1', [uniqueKey]);
      return (rowCount ?? 0) > 0;
    },
  };
}
