// Refuses to start with an encryption key other than the one the stored credentials were
// sealed with: every connection would otherwise fail to open at its first use.
import { ConfigError } from '../config.js';
import type { Queryable } from '../store/db.js';
import { writeSettingOnce } from '../store/settings.js';
import type { Cipher } from './cipher.js';

const CANARY_KEY = 'encryption_key_canary';
const CANARY_TEXT = 'patchbay encryption key canary';

export async function checkEncryptionKey(db: Queryable, cipher: Cipher): Promise<void> {
  const stored = await writeSettingOnce(db, CANARY_KEY, cipher.seal(CANARY_TEXT));
  let opened: unknown;
  try {
    opened = cipher.open(stored);
  } catch {
    opened = undefined;
  }
  if (opened !== CANARY_TEXT) {
    throw new ConfigError('PATCHBAY_ENCRYPTION_KEY', 'is not the key this database was encrypted with');
  }
}
