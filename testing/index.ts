// patchbay/testing: runs one function offline, for function authors' unit tests (vitest, node:test).
// The file is bundled as `patchbay deploy` bundles it and run in the same isolated-vm sandbox;
// its proxy calls are answered from responses saved by `patchbay dryrun --save-responses`, its
// record, checkpoint and metadata writes are captured. Never touches a network or a database.
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BundleError, bundleFunction, formatProblem, type FunctionKind, type FunctionSource } from '../runner/bundle.js';
import { buildRunHost, type RunLog, type RunLogLine } from '../runner/context.js';
import { buildCapturingOperations, createCapture, type ModelCapture } from '../runner/dry-run-host.js';
import { hostFailure, toHostFailure, buildOperations, type Operation, type OperationDeps } from '../runner/operations.js';
import { decideOutcome } from '../runner/outcome.js';
import { createSandbox, type HostCall } from '../runner/sandbox/index.js';
import {
  bodySha256,
  CONNECTION_FILE,
  requestKey,
  toBodyBytes,
  type SavedConnection,
  type SavedExchange,
} from '../runner/saved-responses.js';
import { mapStack, parseSourceMap, type SourceLocation } from '../runner/source-map.js';
import { StreamSource, type ProxyCall, type ProxyEngine, type ProxyResult } from '../server/proxy/index.js';
import type { Store } from '../server/store/index.js';

export type { ModelCapture, RunLogLine, SourceLocation };

export interface RunFunctionOptions {
  /** The function's file, laid out as for deploys: `<functions>/<integration>/{actions,syncs}/<name>.ts`. */
  file: string;
  /** The action's input. */
  input?: unknown;
  /** The connection's metadata (default: what the dry run saved, else `{}`). */
  metadata?: Record<string, unknown>;
  /** The folder `patchbay dryrun --save-responses` wrote; without it every proxy call fails. */
  responses?: string;
  /** Default: the saved connection's id, else `test-connection`. */
  connectionId?: string;
  /** What getCheckpoint answers (syncs). */
  checkpoint?: Record<string, unknown> | null;
  /** `nango.lastSyncDate` (syncs), ISO. */
  lastSyncDate?: string | null;
}

export interface FunctionRunError {
  /** A Patchbay error code: `script_internal_error`, `script_http_error`, `action_script_runtime_error`… */
  code: string;
  message: string;
  payload?: unknown;
  /** For a thrown error: where in your sources (relative to the functions folder). */
  location?: SourceLocation;
}

export interface FunctionResult {
  ok: boolean;
  /** An action's output. */
  output?: unknown;
  error?: FunctionRunError;
  logs: RunLogLine[];
  /** The proxy calls the function made, in order, with the saved status each got. */
  calls: Array<{ method: string; endpoint: string; status: number | null }>;
  /** Requests that had no saved response, as `METHOD /endpoint`. */
  missingResponses: string[];
  /** What batchSave/batchUpdate/batchDelete would have written, per model. */
  models: Record<string, ModelCapture>;
  checkpoint?: { value: Record<string, unknown> | null };
  metadata?: { value: Record<string, unknown> };
}

/**
 * Bundles `file` and runs it once in Patchbay's sandbox, offline.
 *
 * @example
 * import { expect, it } from 'vitest';
 * import { runFunction } from 'patchbay/testing';
 *
 * it('reads an issue', async () => {
 *   const result = await runFunction({
 *     file: 'functions/github/actions/get-issue.ts',
 *     input: { repo: 'acme/app', number: 1 },
 *     responses: 'mocks/github/get-issue',
 *   });
 *   expect(result.output).toEqual({ number: 1, title: 'Bug' });
 * });
 */
export async function runFunction(options: RunFunctionOptions): Promise<FunctionResult> {
  const { source, root } = locateFunction(options.file);
  let built;
  try {
    built = await bundleFunction(source, root);
  } catch (error) {
    if (error instanceof BundleError) throw new Error(`${source.relativePath} does not build:\n${error.problems.map(formatProblem).join('\n')}`);
    throw error;
  }
  const saved = options.responses === undefined ? { exchanges: new Map<string, SavedExchange>(), connection: undefined } : await readSavedResponses(options.responses);
  const savedConnection = saved.connection?.connection;
  const connectionId = options.connectionId ?? (typeof savedConnection?.connection_id === 'string' ? savedConnection.connection_id : 'test-connection');
  const provider = typeof savedConnection?.provider === 'string' ? savedConnection.provider : source.integration;

  const calls: FunctionResult['calls'] = [];
  const missing: string[] = [];
  const replay = createReplay(saved.exchanges, options.responses, calls, missing);
  const capture = createCapture();
  const capturing = buildCapturingOperations(capture, {
    checkpoint: options.checkpoint ?? null,
    readMetadata: async () => options.metadata ?? saved.connection?.metadata ?? {},
    readConnection: async () => ({
      connection_id: connectionId,
      provider_config_key: source.integration,
      provider,
      connection_config: {},
      ...savedConnection,
    }),
  });
  const scope = { providerConfigKey: source.integration, connectionId, logId: 'patchbay-testing' };
  const deps: OperationDeps = {
    // Only the proxy operation is used here, which reads no store and calls only `call`.
    proxy: { call: replay } as unknown as ProxyEngine,
    store: {} as Store,
    crossIntegration: false,
    connectionChanged: () => undefined,
  };
  const operations: Record<string, Operation> = { proxy: buildOperations(deps, scope).proxy as Operation, ...capturing };
  const log: RunLog = { lines: [], dropped: 0 };
  const host: HostCall = async (op, args) => {
    const operation = Object.hasOwn(operations, op) ? operations[op] : undefined;
    if (operation === undefined) throw hostFailure('not_available_offline', `nango.${op} is not available in patchbay/testing (offline runs answer proxy calls, records, checkpoints and metadata).`);
    try {
      return await operation(typeof args === 'object' && args !== null ? (args as Record<string, unknown>) : {});
    } catch (error) {
      throw (error as { hostFailure?: unknown }).hostFailure === true ? error : toHostFailure(error);
    }
  };

  const sandbox = createSandbox({ size: 1 });
  let outcome;
  try {
    outcome = await sandbox.run({
      bundle: { hash: built.hash, code: built.code },
      kind: source.kind,
      input: options.input ?? null,
      context: {
        connectionId,
        providerConfigKey: source.integration,
        provider,
        ...(source.kind === 'sync' ? { lastSyncDate: options.lastSyncDate ?? null, variant: 'base' } : {}),
      },
      host,
      // The run's log, bounded as a real run's is.
      log: buildRunHost(deps, scope, log).log,
    });
  } finally {
    await sandbox.close();
  }

  const map = parseSourceMap(built.sourceMap);
  const logs = log.lines.map((line) => (line.message.includes('function.js:') ? { ...line, message: mapStack(line.message, map).stack } : line));
  let error: FunctionRunError | undefined;
  if (!outcome.ok) {
    const decided = decideOutcome(outcome.failure).error;
    error = { code: decided.code, message: decided.message, ...(decided.payload === undefined ? {} : { payload: decided.payload }) };
    if (outcome.failure.type === 'internal_error') {
      const mapped = mapStack(outcome.failure.stack, map);
      error = { ...error, payload: { ...(decided.payload as object), stacktrace: mapped.stack }, ...(mapped.location === undefined ? {} : { location: mapped.location }) };
    }
  }
  return {
    ok: outcome.ok,
    ...(outcome.ok && source.kind === 'action' ? { output: outcome.output } : {}),
    ...(error === undefined ? {} : { error }),
    logs,
    calls,
    missingResponses: missing,
    models: capture.models,
    ...(capture.checkpoint === undefined ? {} : { checkpoint: capture.checkpoint }),
    ...(capture.metadata === undefined ? {} : { metadata: capture.metadata }),
  };
}

const KIND_OF_FOLDER: Record<string, FunctionKind> = { actions: 'action', syncs: 'sync' };

function locateFunction(file: string): { source: FunctionSource; root: string } {
  const absolute = path.resolve(file);
  const name = path.basename(absolute, '.ts');
  const folder = path.basename(path.dirname(absolute));
  const integrationDir = path.dirname(path.dirname(absolute));
  const kind = KIND_OF_FOLDER[folder];
  if (!absolute.endsWith('.ts') || kind === undefined) {
    throw new Error(`${file} is not laid out as <functions>/<integration>/actions/<name>.ts or <functions>/<integration>/syncs/<name>.ts`);
  }
  const root = path.dirname(integrationDir);
  const integration = path.basename(integrationDir);
  return { source: { integration, kind, name, file: absolute, relativePath: `${integration}/${folder}/${name}.ts` }, root };
}

async function readSavedResponses(dir: string): Promise<{ exchanges: Map<string, SavedExchange>; connection: SavedConnection | undefined }> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith('.json')).sort();
  } catch (error) {
    throw new Error(`cannot read the saved responses in ${dir} (${(error as NodeJS.ErrnoException).code ?? 'error'}): record them with patchbay dryrun … --save-responses ${dir}`);
  }
  const exchanges = new Map<string, SavedExchange>();
  let connection: SavedConnection | undefined;
  for (const name of names) {
    const file = path.join(dir, name);
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(file, 'utf8'));
    } catch {
      throw new Error(`${file} is not JSON`);
    }
    if (name === CONNECTION_FILE) {
      connection = parsed as SavedConnection;
      continue;
    }
    const exchange = parsed as Partial<SavedExchange>;
    if (typeof exchange.request?.method !== 'string' || typeof exchange.request.endpoint !== 'string' || !Array.isArray(exchange.responses) || exchange.responses.length === 0) {
      throw new Error(`${file} is not a saved exchange: {request: {method, endpoint, body_sha256}, responses: [{status, headers, data|text|base64}]}`);
    }
    exchanges.set(requestKey({ ...exchange.request, body_sha256: exchange.request.body_sha256 ?? null }), exchange as SavedExchange);
  }
  return { exchanges, connection };
}

/** The engine's `call`, answered from saved exchanges: each request's answers in order, the last one repeating. */
function createReplay(exchanges: Map<string, SavedExchange>, dir: string | undefined, calls: FunctionResult['calls'], missing: string[]) {
  const served = new Map<string, number>();
  return async (call: ProxyCall): Promise<ProxyResult> => {
    const body = Buffer.isBuffer(call.body) ? call.body : undefined;
    const request = { method: call.method, endpoint: call.endpoint, body_sha256: bodySha256(body) };
    const key = requestKey(request);
    const exchange = exchanges.get(key);
    if (exchange === undefined) {
      const named = `${call.method} ${call.endpoint}${request.body_sha256 === null ? '' : ` (body sha256 ${request.body_sha256.slice(0, 12)}…)`}`;
      missing.push(named);
      calls.push({ method: call.method, endpoint: call.endpoint, status: null });
      throw hostFailure(
        'missing_saved_response',
        dir === undefined
          ? `No saved response for ${named}: pass responses, a folder written by patchbay dryrun --save-responses.`
          : `No saved response for ${named} in ${dir}: record it with patchbay dryrun … --save-responses ${dir}.`,
      );
    }
    const index = served.get(key) ?? 0;
    served.set(key, index + 1);
    const response = exchange.responses[Math.min(index, exchange.responses.length - 1)] as SavedExchange['responses'][number];
    calls.push({ method: call.method, endpoint: call.endpoint, status: response.status });
    const answer = Readable.from([toBodyBytes(response)]);
    return { status: response.status, headers: { ...response.headers }, body: answer, source: new StreamSource(answer), attempts: [], logId: '' };
  };
}
