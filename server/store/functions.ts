// SQL for deployed functions and their content-addressed bundles.
import { isDeepStrictEqual } from 'node:util';
import type { Queryable } from './db.js';

export type FunctionKind = 'action' | 'sync';

export interface FunctionInput {
  integrationKey: string;
  kind: FunctionKind;
  name: string;
  sourcePath: string;
  hash: string;
  /**
   * The bundle's code: absent only when the database holds the bundle already (a start deploying
   * from its bundle cache); replaceAll refuses a bundle it lacks without it.
   */
  code?: string;
  config: Record<string, unknown>;
  /** The bundle's source map (v3 JSON): runtime errors of its runs name the author's file:line. */
  sourceMap?: string | undefined;
}

/** A function the deploy could not build: its deployed version, if any, is kept. */
export interface FunctionFailureInput {
  integrationKey: string;
  kind: FunctionKind;
  name: string;
  sourcePath: string;
  problems: Array<{ file: string; line: number; column: number; message: string }>;
}

export interface FunctionFailure extends FunctionFailureInput {
  failedAt: Date;
}

export interface DeployedFunction {
  integrationKey: string;
  kind: FunctionKind;
  name: string;
  bundleHash: string;
  sourcePath: string;
  config: Record<string, unknown>;
  enabled: boolean;
  deployedAt: Date;
}

export interface DeployChanges {
  added: string[];
  updated: string[];
  removed: string[];
  unchanged: string[];
  /** Did not build; a deployed version of them stays. */
  failed: string[];
}

interface FunctionRow {
  integration_key: string;
  kind: FunctionKind;
  name: string;
  bundle_hash: string;
  source_path: string;
  config: Record<string, unknown>;
  enabled: boolean;
  deployed_at: Date;
}

interface FailureRow {
  integration_key: string;
  kind: FunctionKind;
  name: string;
  source_path: string;
  problems: FunctionFailureInput['problems'];
  failed_at: Date;
}

const toFunction = (row: FunctionRow): DeployedFunction => ({
  integrationKey: row.integration_key,
  kind: row.kind,
  name: row.name,
  bundleHash: row.bundle_hash,
  sourcePath: row.source_path,
  config: row.config,
  enabled: row.enabled,
  deployedAt: row.deployed_at,
});

const labelOf = (f: { integrationKey: string; kind: string; name: string }) => `${f.integrationKey}/${f.kind}s/${f.name}`;

export interface FunctionPageOptions {
  integrationKey?: string | undefined;
  kind?: FunctionKind | undefined;
  /** Exclusive: the last function of the previous page. */
  after?: { integrationKey: string; kind: string; name: string } | undefined;
  limit: number;
}

export interface FunctionStore {
  /**
   * Makes `functions` the whole deployed set, except that the deployed version of a function in
   * `failures` (it is in the folder but does not build) stays; records `failures` as the last
   * deploy's. Run it inside a transaction.
   */
  replaceAll(functions: FunctionInput[], failures?: FunctionFailureInput[]): Promise<DeployChanges>;
  /** The functions the last deploy could not build. */
  failures(): Promise<FunctionFailure[]>;
  find(integrationKey: string, kind: FunctionKind, name: string): Promise<DeployedFunction | undefined>;
  list(): Promise<DeployedFunction[]>;
  /**
   * One page of the deployed set in list's order (integration, kind, name), after `after` when
   * given, optionally of one integration or kind (GET /functions?limit=).
   */
  page(options: FunctionPageOptions): Promise<DeployedFunction[]>;
  bundles(hashes: string[]): Promise<Map<string, string>>;
  /** Which of these bundles (by hash) the database holds. */
  storedBundles(hashes: string[]): Promise<Set<string>>;
  /** A bundle's source map; undefined when it has none (deployed without, or by an older CLI). */
  sourceMap(hash: string): Promise<string | undefined>;
}

/** Bundles per INSERT of a deploy (four parameters each). */
const BUNDLES_PER_INSERT = 50;

export function createFunctionStore(db: Queryable): FunctionStore {
  return {
    async replaceAll(functions, failures = []) {
      // Serialise deploys: two at once would each delete what the other added.
      await db.query(`SELECT pg_advisory_xact_lock(hashtext('patchbay.deploy'))`);
      const before = new Map((await db.query<FunctionRow>('SELECT * FROM functions')).rows.map((row) => [labelOf(toFunction(row)), row]));
      // Only bundles not stored yet (or stored before maps were kept, which get their map from the
      // next deploy of the same code) are sent: a redeploy of 282 functions sent 70 MB of
      // unchanged code and maps to the database.
      const unique = new Map(functions.map((f) => [f.hash, f]));
      if (unique.size > 0) {
        const { rows: stored } = await db.query<{ hash: string; has_map: boolean }>(
          'SELECT hash, source_map IS NOT NULL AS has_map FROM function_bundles WHERE hash = ANY($1::text[])',
          [[...unique.keys()]],
        );
        for (const row of stored) if (row.has_map || unique.get(row.hash)?.sourceMap === undefined) unique.delete(row.hash);
      }
      // Rows of parameters rather than arrays: an array's text is escaped character by character on
      // both sides (282 bundles: 1.4 s of the server's CPU before the database parsed it again).
      const rows = [...unique.values()].map((f) => {
        if (f.code === undefined) throw new Error(`the bundle ${f.hash} of ${labelOf(f)} is not stored and came without its code`);
        return { ...f, code: f.code };
      });
      for (let from = 0; from < rows.length; from += BUNDLES_PER_INSERT) {
        const chunk = rows.slice(from, from + BUNDLES_PER_INSERT);
        await db.query(
          `INSERT INTO function_bundles (hash, code, bytes, source_map)
           VALUES ${chunk.map((_f, index) => `($${index * 4 + 1}, $${index * 4 + 2}, $${index * 4 + 3}::int, $${index * 4 + 4})`).join(', ')}
           ON CONFLICT (hash) DO UPDATE SET source_map = EXCLUDED.source_map
             WHERE function_bundles.source_map IS NULL AND EXCLUDED.source_map IS NOT NULL`,
          chunk.flatMap((f) => [f.hash, f.code, Buffer.byteLength(f.code), f.sourceMap ?? null]),
        );
      }
      const changes: DeployChanges = { added: [], updated: [], removed: [], unchanged: [], failed: failures.map(labelOf) };
      // Still in the folder, only broken: not removed.
      const keep = new Set<string>(changes.failed);
      for (const f of functions) {
        const label = labelOf(f);
        keep.add(label);
        const old = before.get(label);
        if (old === undefined) changes.added.push(label);
        // jsonb keeps its own key order: compare values, not texts.
        else if (old.bundle_hash === f.hash && isDeepStrictEqual(old.config, f.config)) changes.unchanged.push(label);
        else changes.updated.push(label);
        await db.query(
          `INSERT INTO functions (integration_key, kind, name, bundle_hash, source_path, config)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (integration_key, kind, name) DO UPDATE
             SET bundle_hash = EXCLUDED.bundle_hash, source_path = EXCLUDED.source_path, config = EXCLUDED.config,
                 deployed_at = CASE WHEN functions.bundle_hash = EXCLUDED.bundle_hash THEN functions.deployed_at ELSE now() END`,
          [f.integrationKey, f.kind, f.name, f.hash, f.sourcePath, JSON.stringify(f.config)],
        );
      }
      for (const [label, row] of before) {
        if (keep.has(label)) continue;
        changes.removed.push(label);
        await db.query('DELETE FROM functions WHERE integration_key = $1 AND kind = $2 AND name = $3', [row.integration_key, row.kind, row.name]);
      }
      await db.query('DELETE FROM function_failures');
      if (failures.length > 0) {
        await db.query(
          `INSERT INTO function_failures (integration_key, kind, name, source_path, problems)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[])`,
          [
            failures.map((f) => f.integrationKey),
            failures.map((f) => f.kind),
            failures.map((f) => f.name),
            failures.map((f) => f.sourcePath),
            failures.map((f) => JSON.stringify(f.problems)),
          ],
        );
      }
      return changes;
    },
    async failures() {
      const { rows } = await db.query<FailureRow>('SELECT * FROM function_failures ORDER BY source_path');
      return rows.map((row) => ({
        integrationKey: row.integration_key,
        kind: row.kind,
        name: row.name,
        sourcePath: row.source_path,
        problems: row.problems,
        failedAt: row.failed_at,
      }));
    },
    async find(integrationKey, kind, name) {
      const { rows } = await db.query<FunctionRow>('SELECT * FROM functions WHERE integration_key = $1 AND kind = $2 AND name = $3', [
        integrationKey,
        kind,
        name,
      ]);
      return rows[0] === undefined ? undefined : toFunction(rows[0]);
    },
    async list() {
      const { rows } = await db.query<FunctionRow>('SELECT * FROM functions ORDER BY integration_key, kind, name');
      return rows.map(toFunction);
    },
    async page({ integrationKey, kind, after, limit }) {
      const where: string[] = [];
      const params: unknown[] = [];
      if (integrationKey !== undefined) where.push(`integration_key = $${params.push(integrationKey)}`);
      if (kind !== undefined) where.push(`kind = $${params.push(kind)}`);
      // A row comparison walks the primary key from the last function sent.
      if (after !== undefined) where.push(`(integration_key, kind, name) > ($${params.push(after.integrationKey)}, $${params.push(after.kind)}, $${params.push(after.name)})`);
      const { rows } = await db.query<FunctionRow>(
        `SELECT * FROM functions ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY integration_key, kind, name LIMIT $${params.push(limit)}`,
        params,
      );
      return rows.map(toFunction);
    },
    async bundles(hashes) {
      const { rows } = await db.query<{ hash: string; code: string }>('SELECT hash, code FROM function_bundles WHERE hash = ANY($1)', [hashes]);
      return new Map(rows.map((row) => [row.hash, row.code]));
    },
    async storedBundles(hashes) {
      const { rows } = await db.query<{ hash: string }>('SELECT hash FROM function_bundles WHERE hash = ANY($1::text[])', [hashes]);
      return new Set(rows.map((row) => row.hash));
    },
    async sourceMap(hash) {
      const { rows } = await db.query<{ source_map: string | null }>('SELECT source_map FROM function_bundles WHERE hash = $1', [hash]);
      return rows[0]?.source_map ?? undefined;
    },
  };
}
