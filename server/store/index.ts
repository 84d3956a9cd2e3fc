// The store: every SQL statement Patchbay runs lives in this folder, one module per table family.
import type { Cipher } from '../credentials/cipher.js';
import { createConnectionStore, type ConnectionStore } from './connections.js';
import type { Pool } from './db.js';
import { createIntegrationStore, type IntegrationStore } from './integrations.js';

export interface Store {
  pool: Pool;
  integrations: IntegrationStore;
  connections: ConnectionStore;
}

export function createStore(pool: Pool, cipher: Cipher): Store {
  return {
    pool,
    integrations: createIntegrationStore(pool, cipher),
    connections: createConnectionStore(pool, cipher),
  };
}

export { createPool, withTransaction, isUniqueViolation, type Pool, type Queryable } from './db.js';
export { migrate } from './migrate.js';
export { readSetting, writeSettingOnce } from './settings.js';
export type { Connection, ConnectionCredentials, ConnectionInput, EndUser } from './connections.js';
export type { Integration, IntegrationCredentials, IntegrationInput } from './integrations.js';
