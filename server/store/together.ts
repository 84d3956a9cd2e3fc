// One round trip for an INSERT that is not ours (pg-boss's job insert), a data-modifying statement
// of ours that must commit with it, and a NOTIFY after both: the queue sends a run and its ticket
// with it (server/queue/boss.ts), and every SQL text Patchbay composes stays in the store.
import type { Pool } from './db.js';

/** SQL with its values; `$n` appears in the text only as a parameter. */
export interface Statement {
  text: string;
  values: unknown[];
}

/**
 * Runs `insert` with `alongside` and a NOTIFY as one statement: one round trip, one commit.
 * pg-boss 10's insert is one `INSERT … RETURNING id`; should a later version send something else,
 * each part runs on its own, in the same order.
 */
export async function insertTogether(pool: Pool, insert: Statement, notify: { channel: string; payload: string } | undefined, alongside: Statement | undefined) {
  if (!/^\s*INSERT\s/i.test(insert.text)) {
    if (alongside !== undefined) await pool.query(alongside.text, alongside.values);
    const result = await pool.query(insert.text, insert.values);
    if (notify !== undefined) await pool.query('SELECT pg_notify($1, $2)', [notify.channel, notify.payload]);
    return result;
  }
  const params = [...insert.values];
  let before = '';
  if (alongside !== undefined) {
    const offset = params.length;
    before = `alongside AS (${alongside.text.replace(/\$(\d+)/g, (_match, index: string) => `$${Number(index) + offset}`)}), `;
    params.push(...alongside.values);
  }
  if (notify === undefined) return pool.query(`WITH ${before}sent AS (${insert.text}) SELECT sent.id FROM sent`, params);
  const n = params.length;
  return pool.query(`WITH ${before}sent AS (${insert.text}) SELECT sent.id, pg_notify($${n + 1}, $${n + 2}) FROM sent`, [...params, notify.channel, notify.payload]);
}
