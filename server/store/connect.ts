// SQL for connect_sessions and oauth_flows (migration 009). Tokens and OAuth states arrive here
// already hashed; a flow's PKCE verifier is sealed with the encryption key.
import type { Cipher } from '../credentials/cipher.js';
import type { Queryable } from './db.js';

export interface ConnectSessionInput {
  tokenHash: Buffer;
  endUser: { id: string; email?: string | null; display_name?: string | null; tags?: Record<string, string> | null } | null;
  organization: { id: string; display_name?: string | null } | null;
  allowedIntegrations: string[] | null;
  integrationsConfigDefaults: Record<string, IntegrationConfigDefaults>;
  tags: Record<string, string>;
  webhookUrlOverride: string | null;
  reconnect: { integrationKey: string; connectionId: string } | null;
  expiresAt: Date;
}

export interface IntegrationConfigDefaults {
  user_scopes?: string | undefined;
  authorization_params?: Record<string, string> | undefined;
  connection_config?: Record<string, unknown> | undefined;
}

export interface ConnectSession extends ConnectSessionInput {
  id: number;
  createdAt: Date;
}

export interface OAuthFlowInput {
  stateHash: Buffer;
  sessionId: number;
  integrationKey: string;
  connectionId: string;
  wsClientId: string | null;
  /** What only the token request needs: the PKCE verifier, the redirect URI used. */
  secret: { codeVerifier: string; redirectUri: string };
  connectionConfig: Record<string, unknown>;
  expiresAt: Date;
}

export interface OAuthFlow extends OAuthFlowInput {
  createdAt: Date;
}

export interface ConnectStore {
  createSession(input: ConnectSessionInput): Promise<ConnectSession>;
  /** The session with this token hash, expired or not (the caller tells the two apart). */
  sessionByTokenHash(tokenHash: Buffer): Promise<ConnectSession | undefined>;
  sessionById(id: number): Promise<ConnectSession | undefined>;
  deleteSession(tokenHash: Buffer): Promise<boolean>;
  /** Records a flow; false when its session already has `maxPerSession` flows in progress. */
  createFlow(input: OAuthFlowInput, maxPerSession: number): Promise<boolean>;
  /** Removes and returns the flow: a state works once, whatever happens next. */
  takeFlow(stateHash: Buffer): Promise<OAuthFlow | undefined>;
  /** Deletes sessions and flows expired before `before`; returns how many rows went. */
  purgeExpired(before: Date): Promise<number>;
}

interface SessionRow {
  id: string;
  token_hash: Buffer;
  end_user: ConnectSessionInput['endUser'];
  organization: ConnectSessionInput['organization'];
  allowed_integrations: string[] | null;
  integrations_config_defaults: Record<string, IntegrationConfigDefaults>;
  tags: Record<string, string>;
  webhook_url_override: string | null;
  reconnect_integration: string | null;
  reconnect_connection_id: string | null;
  expires_at: Date;
  created_at: Date;
}

const SESSION_COLUMNS = `id, token_hash, end_user, organization, allowed_integrations, integrations_config_defaults, tags,
  webhook_url_override, reconnect_integration, reconnect_connection_id, expires_at, created_at`;

function toSession(row: SessionRow): ConnectSession {
  return {
    id: Number(row.id),
    tokenHash: row.token_hash,
    endUser: row.end_user,
    organization: row.organization,
    allowedIntegrations: row.allowed_integrations,
    integrationsConfigDefaults: row.integrations_config_defaults,
    tags: row.tags,
    webhookUrlOverride: row.webhook_url_override,
    reconnect:
      row.reconnect_integration !== null && row.reconnect_connection_id !== null
        ? { integrationKey: row.reconnect_integration, connectionId: row.reconnect_connection_id }
        : null,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

export function createConnectStore(db: Queryable, cipher: Cipher): ConnectStore {
  const sessionWhere = async (where: string, value: unknown) => {
    const { rows } = await db.query<SessionRow>(`SELECT ${SESSION_COLUMNS} FROM connect_sessions WHERE ${where}`, [value]);
    return rows[0] === undefined ? undefined : toSession(rows[0]);
  };

  return {
    async createSession(input) {
      const { rows } = await db.query<SessionRow>(
        `INSERT INTO connect_sessions (token_hash, end_user, organization, allowed_integrations, integrations_config_defaults, tags,
           webhook_url_override, reconnect_integration, reconnect_connection_id, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         RETURNING ${SESSION_COLUMNS}`,
        [
          input.tokenHash,
          input.endUser === null ? null : JSON.stringify(input.endUser),
          input.organization === null ? null : JSON.stringify(input.organization),
          input.allowedIntegrations,
          JSON.stringify(input.integrationsConfigDefaults),
          JSON.stringify(input.tags),
          input.webhookUrlOverride,
          input.reconnect?.integrationKey ?? null,
          input.reconnect?.connectionId ?? null,
          input.expiresAt,
        ],
      );
      return toSession(rows[0] as SessionRow);
    },

    sessionByTokenHash: (tokenHash) => sessionWhere('token_hash = $1', tokenHash),
    sessionById: (id) => sessionWhere('id = $1', id),

    async deleteSession(tokenHash) {
      const { rowCount } = await db.query('DELETE FROM connect_sessions WHERE token_hash = $1', [tokenHash]);
      return (rowCount ?? 0) > 0;
    },

    async createFlow(input, maxPerSession) {
      const { rowCount } = await db.query(
        `INSERT INTO oauth_flows (state_hash, session_id, integration_key, connection_id, ws_client_id, secret_enc, connection_config, expires_at)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8
         WHERE (SELECT count(*) FROM oauth_flows WHERE session_id = $2 AND expires_at > now()) < $9`,
        [
          input.stateHash,
          input.sessionId,
          input.integrationKey,
          input.connectionId,
          input.wsClientId,
          cipher.seal(input.secret),
          JSON.stringify(input.connectionConfig),
          input.expiresAt,
          maxPerSession,
        ],
      );
      return (rowCount ?? 0) > 0;
    },

    async takeFlow(stateHash) {
      const { rows } = await db.query<{
        state_hash: Buffer;
        session_id: string;
        integration_key: string;
        connection_id: string;
        ws_client_id: string | null;
        secret_enc: Buffer;
        connection_config: Record<string, unknown>;
        expires_at: Date;
        created_at: Date;
      }>('DELETE FROM oauth_flows WHERE state_hash = $1 RETURNING *', [stateHash]);
      const row = rows[0];
      if (row === undefined) return undefined;
      return {
        stateHash: row.state_hash,
        sessionId: Number(row.session_id),
        integrationKey: row.integration_key,
        connectionId: row.connection_id,
        wsClientId: row.ws_client_id,
        secret: cipher.open<OAuthFlowInput['secret']>(row.secret_enc),
        connectionConfig: row.connection_config,
        expiresAt: row.expires_at,
        createdAt: row.created_at,
      };
    },

    async purgeExpired(before) {
      const flows = await db.query('DELETE FROM oauth_flows WHERE expires_at < $1', [before]);
      const sessions = await db.query('DELETE FROM connect_sessions WHERE expires_at < $1', [before]);
      return (flows.rowCount ?? 0) + (sessions.rowCount ?? 0);
    },
  };
}
