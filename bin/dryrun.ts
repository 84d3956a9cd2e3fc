// `patchbay dryrun <integration> <function> <connection-id>`: bundles one local function and runs
// it once on a running server against a real connection, without deploying it and without
// storing what it writes; prints the calls, the logs and the output (or the records it would
// save). `--save-responses DIR` keeps the provider's answers for patchbay/testing.
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { request } from 'undici';
import type { Config } from '../server/config.js';
import { BundleError, bundleFunction, formatProblem, type FunctionKind, type FunctionSource } from '../runner/bundle.js';
import { CONNECTION_FILE, exchangeFileName, requestKey, type SavedExchange, type SavedRequest, type SavedResponse } from '../runner/saved-responses.js';
import { serverUrlOf } from './data-dir.js';
import { storedSecretKey } from './deploy.js';

export const DRY_RUN_USAGE = `usage: patchbay dryrun <integration> <function> <connection-id> [options]

  Runs ./functions/<integration>/{actions,syncs}/<function>.ts once on the server (PATCHBAY_URL,
  PATCHBAY_SECRET_KEY) against a real connection, without deploying it or storing anything.

  --input JSON|@file       the action's input
  --metadata JSON|@file    the connection's metadata for this run only
  --checkpoint JSON|@file  what getCheckpoint answers (syncs; default none)
  --last-sync-date ISO     nango.lastSyncDate (syncs)
  --kind action|sync       when an action and a sync share the name
  --save-responses DIR     write each provider answer to DIR, for patchbay/testing
  --json                   print the server's answer as JSON
`;

/** Exit codes: the function succeeded, it failed (or the server refused), the command was wrong. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface DryRunArgs {
  integration: string;
  name: string;
  connectionId: string;
  input?: string;
  metadata?: string;
  checkpoint?: string;
  lastSyncDate?: string;
  kind?: FunctionKind;
  saveResponses?: string;
  json: boolean;
}

const VALUE_OPTIONS: Record<string, keyof DryRunArgs> = {
  '--input': 'input',
  '--metadata': 'metadata',
  '--checkpoint': 'checkpoint',
  '--last-sync-date': 'lastSyncDate',
  '--kind': 'kind',
  '--save-responses': 'saveResponses',
};

export class UsageError extends Error {}

/** Reads the command line; throws UsageError with what is wrong. */
export function parseDryRunArgs(argv: string[]): DryRunArgs {
  const positional: string[] = [];
  const options: Partial<Record<keyof DryRunArgs, string>> = {};
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--json') json = true;
    else if (arg.startsWith('--')) {
      const [name, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
      const key = VALUE_OPTIONS[name];
      if (key === undefined) throw new UsageError(`unknown option ${name}`);
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`${name} needs a value`);
      options[key] = value;
    } else positional.push(arg);
  }
  if (positional.length !== 3) throw new UsageError('expected <integration> <function> <connection-id>');
  const [integration, name, connectionId] = positional as [string, string, string];
  if (options.kind !== undefined && options.kind !== 'action' && options.kind !== 'sync') throw new UsageError('--kind is action or sync');
  if (options.lastSyncDate !== undefined && Number.isNaN(Date.parse(options.lastSyncDate))) throw new UsageError('--last-sync-date is an ISO date');
  return { integration, name, connectionId, ...options, kind: options.kind as FunctionKind | undefined, json };
}

/** `patchbay dryrun …`: returns the exit code. */
export async function dryRunCommand(config: Config, args: DryRunArgs, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  let input: unknown;
  let metadata: unknown;
  let checkpoint: unknown;
  try {
    input = args.input === undefined ? undefined : await readJsonArg('--input', args.input);
    metadata = args.metadata === undefined ? undefined : await readJsonArg('--metadata', args.metadata);
    checkpoint = args.checkpoint === undefined ? undefined : await readJsonArg('--checkpoint', args.checkpoint);
    if (metadata !== undefined && !isObject(metadata)) throw new UsageError('--metadata is a JSON object');
    if (checkpoint !== undefined && checkpoint !== null && !isObject(checkpoint)) throw new UsageError('--checkpoint is a JSON object');
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    err.write(`patchbay dryrun: ${error.message}\n`);
    return EXIT_USAGE;
  }
  const source = findFunction(config.functionsDir, args);
  if (typeof source === 'string') {
    err.write(`patchbay dryrun: ${source}\n`);
    return EXIT_USAGE;
  }
  const secretKey = config.secretKey ?? (await storedSecretKey(config.dataDir));
  if (secretKey === undefined) {
    err.write(`patchbay dryrun: no secret key: set PATCHBAY_SECRET_KEY (or run from the folder whose ${config.dataDir} holds it)\n`);
    return EXIT_FAILED;
  }

  let built;
  try {
    built = await bundleFunction(source, config.functionsDir);
  } catch (error) {
    if (!(error instanceof BundleError)) throw error;
    err.write(`${source.relativePath} does not build:\n${error.problems.map((p) => `  ${formatProblem(p)}`).join('\n')}\n`);
    return EXIT_FAILED;
  }

  const serverUrl = await serverUrlOf(config);
  const response = await request(`${serverUrl}/functions/dryrun`, {
    method: 'POST',
    headers: { authorization: `Bearer ${secretKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      integration_key: source.integration,
      kind: source.kind,
      name: source.name,
      source_path: source.relativePath,
      connection_id: args.connectionId,
      code: built.code,
      ...(built.sourceMap === undefined ? {} : { source_map: built.sourceMap }),
      ...(input === undefined ? {} : { input }),
      ...(metadata === undefined ? {} : { metadata }),
      ...(checkpoint === undefined ? {} : { checkpoint }),
      ...(args.lastSyncDate === undefined ? {} : { last_sync_date: new Date(args.lastSyncDate).toISOString() }),
      save_responses: args.saveResponses !== undefined,
    }),
  });
  const text = await response.body.text();
  let answer: WireResult & { error?: WireError };
  try {
    answer = JSON.parse(text) as WireResult;
  } catch {
    err.write(`patchbay dryrun: ${serverUrl} answered ${response.statusCode} with something that is not JSON\n`);
    return EXIT_FAILED;
  }
  if (response.statusCode !== 200) {
    if (args.json) out.write(`${text}\n`);
    err.write(`patchbay dryrun: ${serverUrl} refused the dry run: ${response.statusCode} ${answer.error?.code ?? ''} ${answer.error?.message ?? ''}\n`);
    return EXIT_FAILED;
  }

  if (args.saveResponses !== undefined) {
    const saved = await saveResponses(path.resolve(args.saveResponses), answer);
    if (!args.json) out.write(`saved ${saved.files} answers to ${args.saveResponses}\n`);
    if (saved.dropped > 0) err.write(`patchbay dryrun: ${saved.dropped} answers were too large to save (16 MiB per dry run)\n`);
  }
  if (args.json) out.write(`${JSON.stringify(answer, null, 2)}\n`);
  else printResult(out, source, args.connectionId, answer);
  return answer.ok ? EXIT_OK : EXIT_FAILED;
}

interface WireError {
  code: string;
  message: string;
  status?: number;
  payload?: unknown;
  location?: { file: string; line: number; column: number };
}

interface WireResult {
  ok: boolean;
  output?: unknown;
  error?: WireError;
  logs: Array<{ level: string; message: string; meta?: unknown }>;
  logs_dropped: number;
  calls: Array<{ method: string; endpoint: string; status: number | null; duration_ms: number; attempts: number; error?: { code: string; message: string }; request?: SavedRequest; response?: SavedResponse }>;
  calls_dropped: number;
  responses_dropped: number;
  models: Record<string, { saved: number; updated: number; deleted: number; records: Array<{ write: string; record: unknown }>; records_dropped: number }>;
  checkpoint?: unknown;
  metadata?: unknown;
  connection?: unknown;
}

/** The function's file, or why there is none. */
function findFunction(functionsDir: string, args: DryRunArgs): FunctionSource | string {
  const candidates = (['action', 'sync'] as const)
    .filter((kind) => args.kind === undefined || args.kind === kind)
    .map((kind) => {
      const relativePath = `${args.integration}/${kind}s/${args.name}.ts`;
      return { integration: args.integration, kind, name: args.name, file: path.join(functionsDir, relativePath), relativePath };
    })
    .filter((source) => existsSync(source.file));
  if (candidates.length === 1) return candidates[0] as FunctionSource;
  if (candidates.length > 1) return `both ${candidates.map((c) => c.relativePath).join(' and ')} exist: add --kind action or --kind sync`;
  return `no ${args.integration}/{actions,syncs}/${args.name}.ts in ${functionsDir}`;
}

async function readJsonArg(option: string, value: string): Promise<unknown> {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = await readFile(value.slice(1), 'utf8');
    } catch (error) {
      throw new UsageError(`${option}: cannot read ${value.slice(1)} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError(`${option} is not JSON${value.startsWith('@') ? ` (${value.slice(1)})` : ''}`);
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One file per distinct request (see README, "Test functions offline"), plus what the function read of its connection. */
async function saveResponses(dir: string, answer: WireResult): Promise<{ files: number; dropped: number }> {
  await mkdir(dir, { recursive: true });
  const exchanges = new Map<string, SavedExchange>();
  for (const call of answer.calls) {
    if (call.request === undefined || call.response === undefined) continue;
    const key = requestKey(call.request);
    const exchange = exchanges.get(key) ?? { request: call.request, responses: [] };
    exchange.responses.push(call.response);
    exchanges.set(key, exchange);
  }
  for (const exchange of exchanges.values()) {
    await writeFile(path.join(dir, exchangeFileName(exchange.request)), `${JSON.stringify(exchange, null, 2)}\n`);
  }
  if (answer.connection !== undefined) await writeFile(path.join(dir, CONNECTION_FILE), `${JSON.stringify(answer.connection, null, 2)}\n`);
  return { files: exchanges.size, dropped: answer.responses_dropped };
}

// A sample of each model's records is enough to check their shape; --json gives all that came.
const SHOWN_RECORDS_PER_MODEL = 3;

function printResult(out: NodeJS.WritableStream, source: FunctionSource, connectionId: string, answer: WireResult): void {
  const line = (text = '') => out.write(`${text}\n`);
  line(`dry run of ${source.relativePath} on ${source.integration}/${connectionId}: nothing deployed, nothing stored`);
  line();
  line(`calls (${answer.calls.length}${answer.calls_dropped > 0 ? `, ${answer.calls_dropped} more not listed` : ''})`);
  for (const call of answer.calls) {
    const outcome = call.status === null ? `failed: ${call.error?.code ?? 'error'} ${call.error?.message ?? ''}` : String(call.status);
    line(`  ${call.method} ${call.endpoint} → ${outcome}  ${call.duration_ms} ms  ${call.attempts} attempt${call.attempts === 1 ? '' : 's'}`);
  }
  if (answer.logs.length > 0) {
    line();
    line('logs');
    for (const entry of answer.logs) line(`  [${entry.level}] ${entry.message}${entry.meta === undefined ? '' : ` ${JSON.stringify(entry.meta)}`}`);
    if (answer.logs_dropped > 0) line(`  … ${answer.logs_dropped} more lines dropped`);
  }
  if (source.kind === 'sync' || Object.keys(answer.models).length > 0) {
    line();
    line('records (would be written; nothing stored)');
    if (Object.keys(answer.models).length === 0) line('  none');
    for (const [model, counts] of Object.entries(answer.models)) {
      line(`  ${model}: ${counts.saved} saved, ${counts.updated} updated, ${counts.deleted} deleted`);
      for (const { write, record } of counts.records.slice(0, SHOWN_RECORDS_PER_MODEL)) line(`    ${write} ${JSON.stringify(record)}`);
      const more = counts.records.length + counts.records_dropped - SHOWN_RECORDS_PER_MODEL;
      if (more > 0) line(`    … ${more} more (--json shows up to 100 per model)`);
    }
  }
  if (answer.checkpoint !== undefined) {
    line();
    line(`checkpoint (not stored): ${JSON.stringify(answer.checkpoint)}`);
  }
  if (answer.metadata !== undefined) {
    line();
    line(`metadata (not stored): ${JSON.stringify(answer.metadata)}`);
  }
  line();
  if (answer.ok) {
    if (source.kind === 'action') {
      line('output');
      line(indent(JSON.stringify(answer.output ?? null, null, 2)));
    } else line('success');
    return;
  }
  const error = answer.error;
  line(`failed: ${error?.code ?? 'error'}: ${error?.message ?? ''}`);
  if (error?.location !== undefined) line(`  at ${error.location.file}:${error.location.line}:${error.location.column}`);
  const payload = error?.payload as { stacktrace?: unknown } | undefined;
  if (typeof payload?.stacktrace === 'string') {
    for (const frame of payload.stacktrace.split('\n').filter((text) => text.trimStart().startsWith('at '))) line(`  ${frame.trim()}`);
  } else if (payload !== undefined && payload !== null) line(indent(JSON.stringify(payload, null, 2)));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((row) => `  ${row}`)
    .join('\n');
}
