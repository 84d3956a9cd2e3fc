// SQL for patchbay_settings: installation-wide facts kept in the database.
import type { Queryable } from './db.js';

export async function readSetting(db: Queryable, key: string): Promise<Buffer | undefined> {
  const { rows } = await db.query<{ value: Buffer }>('SELECT value FROM patchbay_settings WHERE key = $1', [key]);
  return rows[0]?.value;
}

/** Inserts the value unless the key exists; returns the stored value either way (first writer wins). */
export async function writeSettingOnce(db: Queryable, key: string, value: Buffer): Promise<Buffer> {
  await db.query('INSERT INTO patchbay_settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING', [key, value]);
  return (await readSetting(db, key)) as Buffer;
}
