// The guest runtime's entry, evaluated in every fresh context before the bundle. It leaves one
// global, the bootstrap: called once with the host links, it deletes itself, installs the web
// globals and returns `enter` (run the function, or read its definition). Runs INSIDE the isolate.
import { connect, type HostLinks } from './channel.js';
import { MAX_MESSAGE_CHARS, toGuestFailure } from './failure.js';
import { installGlobals, onUncaughtTimerError } from './globals.js';
import { arrayIsArray, jsonStringify, objectKeys, PromiseCtor, slice, StringCtor } from './intrinsics.js';
import { GuestNango, GuestNangoSync } from './nango.js';
import { GUEST_BOOTSTRAP_GLOBAL, GUEST_EXPORTS_GLOBAL, type GuestFailure, type GuestInspection, type GuestRequest, type GuestResult } from './protocol.js';

// zod reports one issue per bad field: a hundred is enough to fix a payload and bounds the copy.
const MAX_ISSUES = 100;

type Definition = Record<string, unknown> & { type?: unknown; exec?: unknown; onWebhook?: unknown };

const global = globalThis as unknown as Record<string, unknown>;

function readDefinition(): Definition | string {
  const exports = global[GUEST_EXPORTS_GLOBAL] as { default?: unknown } | undefined;
  const definition = typeof exports === 'object' && exports !== null ? exports.default : undefined;
  if (definition === undefined) return 'The file has no default export (export default createAction({...}) or createSync({...})).';
  if (typeof definition !== 'object' || definition === null) {
    return typeof definition === 'function'
      ? 'The default export is a function: wrap it in createAction({...}) or createSync({...}) (the nango.yaml format is not supported).'
      : 'The default export must be createAction({...}) or createSync({...}).';
  }
  const { type, exec } = definition as Definition;
  if (type !== 'action' && type !== 'sync' && type !== 'on-event') return `The default export has type ${jsonStringify(type) ?? 'undefined'}; expected createAction, createSync or createOnEvent.`;
  if (typeof exec !== 'function') return 'The definition has no exec function.';
  return definition as Definition;
}

/** zod issues as plain data (zod 3 and 4 both have `.error.issues`). */
function issuesJsonOf(result: unknown): string {
  const issues = (result as { error?: { issues?: unknown } }).error?.issues;
  const list = arrayIsArray(issues) ? issues.slice(0, MAX_ISSUES) : [{ message: 'invalid' }];
  try {
    return jsonStringify(list) ?? '[]';
  } catch {
    return jsonStringify(list.map((issue) => ({ message: StringCtor((issue as { message?: unknown })?.message ?? issue) })));
  }
}

function hasSafeParse(schema: unknown): schema is { safeParse(value: unknown): { success: boolean; data?: unknown } } {
  return typeof schema === 'object' && schema !== null && typeof (schema as { safeParse?: unknown }).safeParse === 'function';
}

/** UTF-8 length without building the bytes (the host checks again). JSON.stringify escapes lone
 *  surrogates, so every surrogate here is half of a 4-byte pair. */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let index = 0; index < text.length; index++) {
    const code = text.charCodeAt(index);
    bytes += code < 0x80 ? 1 : code < 0x800 ? 2 : code >= 0xd800 && code <= 0xdfff ? 2 : 3;
  }
  return bytes;
}

async function run(request: Extract<GuestRequest, { mode: 'run' }>): Promise<GuestResult> {
  const definition = readDefinition();
  if (typeof definition === 'string') return { ok: false, failure: { type: 'invalid_definition', message: definition } };
  const expected = request.kind;
  if (definition.type !== expected) {
    return { ok: false, failure: { type: 'invalid_definition', message: `The function is a ${StringCtor(definition.type)} but was run as a ${expected}.` } };
  }
  const entry = request.entry === 'onWebhook' ? definition.onWebhook : definition.exec;
  if (typeof entry !== 'function') return { ok: false, failure: { type: 'invalid_definition', message: `The definition has no ${request.entry} function.` } };

  let uncaught: ((failure: GuestFailure) => void) | undefined;
  const timerFailure = new PromiseCtor<GuestFailure>((resolve) => {
    uncaught = resolve;
  });
  onUncaughtTimerError((error) => uncaught?.(toGuestFailure(error)));

  let output: unknown;
  try {
    let input = request.input;
    if (expected === 'action' && hasSafeParse(definition.input)) {
      const parsed = definition.input.safeParse(input);
      if (!parsed.success) return { ok: false, failure: { type: 'invalid_input', issuesJson: issuesJsonOf(parsed) } };
      input = parsed.data;
    }
    const nango = expected === 'sync' ? new GuestNangoSync(request.context, request.runToken, definition.models, definition.checkpoint) : new GuestNango(request.context, request.runToken);
    const args = request.entry === 'onWebhook' ? [nango, input] : expected === 'action' ? [nango, input] : [nango];
    const execution = (async () => (entry as (...args: unknown[]) => unknown).apply(definition, args))();
    const settled = await PromiseCtor.race([execution.then((value) => ({ value })), timerFailure.then((failure) => ({ failure }))]);
    if ('failure' in settled) return { ok: false, failure: settled.failure };
    output = settled.value;
    if (expected === 'action' && hasSafeParse(definition.output)) {
      const parsed = definition.output.safeParse(output);
      if (!parsed.success) return { ok: false, failure: { type: 'invalid_output', issuesJson: issuesJsonOf(parsed) } };
    }
  } catch (error) {
    return { ok: false, failure: toGuestFailure(error) };
  }

  let outputJson: string | undefined;
  try {
    outputJson = jsonStringify(output === undefined ? null : output);
  } catch (error) {
    const message = (error as { message?: unknown } | null)?.message;
    return { ok: false, failure: { type: 'output_not_json', message: typeof message === 'string' ? slice(message, 0, MAX_MESSAGE_CHARS) : 'JSON.stringify failed' } };
  }
  // A function or a symbol at the top level stringifies to undefined.
  if (outputJson === undefined) outputJson = 'null';
  // A UTF-16 unit is 1 to 3 bytes: count only when the length alone cannot decide.
  if (outputJson.length * 3 > request.maxOutputBytes) {
    const bytes = utf8Length(outputJson);
    if (bytes > request.maxOutputBytes) return { ok: false, failure: { type: 'output_too_large', bytes } };
  }
  return { ok: true, outputJson };
}

function inspect(): GuestInspection {
  const definition = readDefinition();
  if (typeof definition === 'string') return { ok: false, message: definition };
  const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
  const strings = (value: unknown) => (arrayIsArray(value) ? value.filter((item): item is string => typeof item === 'string') : undefined);
  const summary: Record<string, unknown> = {
    type: definition.type,
    description: text(definition.description) ?? '',
    version: text(definition.version) ?? '0.0.1',
    hasInput: hasSafeParse(definition.input),
    hasOutput: hasSafeParse(definition.output),
    hasOnWebhook: typeof definition.onWebhook === 'function',
  };
  if (definition.type === 'sync') {
    summary.frequency = text(definition.frequency);
    summary.autoStart = definition.autoStart !== false;
    const models = definition.models;
    summary.models = typeof models === 'object' && models !== null ? objectKeys(models) : [];
    if (typeof definition.trackDeletes === 'boolean') summary.trackDeletes = definition.trackDeletes;
    if (typeof definition.syncType === 'string') summary.syncType = definition.syncType;
    const subscriptions = strings(definition.webhookSubscriptions);
    if (subscriptions !== undefined) summary.webhookSubscriptions = subscriptions;
  }
  if (definition.type === 'on-event') summary.event = text(definition.event);
  const scopes = strings(definition.scopes);
  if (scopes !== undefined) summary.scopes = scopes;
  const limits = definition.limits as Record<string, unknown> | undefined;
  if (typeof limits === 'object' && limits !== null) {
    const numeric: Record<string, number> = {};
    for (const key of ['timeoutMs', 'cpuMs', 'memoryMb']) if (typeof limits[key] === 'number') numeric[key] = limits[key] as number;
    summary.limits = numeric;
  }
  return { ok: true, summary };
}

async function enter(request: GuestRequest): Promise<GuestResult | GuestInspection> {
  if (request.mode === 'inspect') {
    try {
      return inspect();
    } catch (error) {
      const failure = toGuestFailure(error);
      return { ok: false, message: `Reading the definition failed: ${failure.type === 'internal_error' ? failure.message : failure.type}` };
    }
  }
  const result = await run(request);
  // `reuseContext: false` in the definition: the host gives each run a fresh context.
  const definition = readDefinition();
  return typeof definition !== 'string' && definition.reuseContext === false ? { ...result, fresh: true } : result;
}

global[GUEST_BOOTSTRAP_GLOBAL] = (call: HostLinks['call'], timer: HostLinks['timer'], service: HostLinks['service']) => {
  delete global[GUEST_BOOTSTRAP_GLOBAL];
  connect({ call, timer, service });
  installGlobals(global);
  return enter;
};
