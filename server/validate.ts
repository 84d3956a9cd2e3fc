// Turns untrusted route input into typed values with a zod schema, or a 400 whose errors[]
// names each offending field (`{code, message, path}`, as Nango's API answers). Also the bounds every JSON
// value and user-named map must keep before it reaches a handler or PostgreSQL.
import { z } from 'zod';
import { validationError, type ValidationIssue } from './errors.js';

type InputKind = 'invalid_headers' | 'invalid_query_params' | 'invalid_body' | 'invalid_uri_params';

/**
 * Request bodies nest at most this deep. JSON.parse copes with any depth, but the recursive
 * walks after it do not (JSON.stringify, which sends jsonb to PostgreSQL, overflows the stack
 * near 10 000 levels and answered a 500); real metadata and function inputs nest a few levels.
 */
export const MAX_JSON_DEPTH = 64;

/**
 * Keys that name JavaScript's object machinery. Refused (not dropped) in the maps a user names
 * keys of (tags, metadata, configs), so that no copy (`{...tags}`, a tag filter) can reach a
 * prototype and nobody wonders where their key went.
 */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/** A key of a user-named map: any text but the prototype keys. */
export const mapKey = z.string().refine((key) => !PROTOTYPE_KEYS.has(key), 'must not be __proto__, constructor or prototype');

export function isPrototypeKey(key: string): boolean {
  return PROTOTYPE_KEYS.has(key);
}

/**
 * The `name[key]=value` pairs of a raw query (fastify's parser keeps them flat) as a map, for a
 * schema to check; a prototype key is refused here, as zod would drop `__proto__` without a word.
 */
export function bracketedQuery(query: Record<string, unknown>, name: string): Record<string, unknown> {
  const pattern = new RegExp(`^${name}\\[(.*)\\]$`, 's');
  const found: Record<string, unknown> = {};
  for (const [param, value] of Object.entries(query)) {
    const key = pattern.exec(param)?.[1];
    if (key === undefined) continue;
    if (isPrototypeKey(key)) {
      throw validationError('invalid_query_params', [{ code: 'invalid_key', message: 'key must not be __proto__, constructor or prototype', path: [name, key] }]);
    }
    found[key] = value;
  }
  return found;
}

export function parseInput<S extends z.ZodType>(schema: S, value: unknown, kind: InputKind): z.output<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw validationError(kind, result.error.issues.map(toIssue));
  const unstorable = findUnstorableText(result.data);
  if (unstorable !== undefined) throw validationError(kind, [unstorable]);
  return result.data;
}

function toIssue(issue: z.core.$ZodIssue): ValidationIssue {
  const path = issue.path.map((part) => (typeof part === 'symbol' ? String(part) : part));
  // A refused record key: its own reason says more than zod's "Invalid key in record".
  const keyReason = issue.code === 'invalid_key' ? issue.issues[0]?.message : undefined;
  return { code: issue.code, message: keyReason === undefined ? issue.message : `key ${keyReason}`, path };
}

/** True when arrays and objects in `value` nest deeper than `maxDepth` (a scalar is depth 0). */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  // Iterative: the point is to survive values that would overflow a recursive walk.
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    if (typeof item.value !== 'object' || item.value === null) continue;
    const depth = item.depth + 1;
    if (depth > maxDepth) return true;
    for (const child of Object.values(item.value)) {
      if (typeof child === 'object' && child !== null) stack.push({ value: child, depth });
    }
  }
  return false;
}

// String.prototype.isWellFormed is ES2024: Node 20 has it, our TypeScript lib (ES2023) does not declare it.
// It and includes() scan 64 MB in milliseconds where a /u regex takes half a second.
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed;

/**
 * PostgreSQL stores no U+0000 in text or jsonb (SQLSTATE 22P05 / 22021) and its jsonb refuses an
 * unpaired UTF-16 surrogate (22P02): either was a 500 from deep inside a query.
 */
function isStorable(text: string): boolean {
  return !text.includes('\u0000') && isWellFormed.call(text);
}

/** The first string or key in plain objects and arrays that PostgreSQL cannot store, as an issue. */
export function findUnstorableText(value: unknown): ValidationIssue | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value, path: [] }];
  for (let item = stack.pop(); item !== undefined; item = stack.pop()) {
    const { value: current, path } = item;
    if (typeof current === 'string') {
      if (!isStorable(current)) return unstorableIssue(path, current);
      continue;
    }
    if (Array.isArray(current)) {
      current.forEach((child, index) => stack.push({ value: child, path: [...path, index] }));
      continue;
    }
    // Only plain data: parsed values such as Dates carry no text of their own.
    if (typeof current !== 'object' || current === null || !isPlainObject(current)) continue;
    for (const [key, child] of Object.entries(current)) {
      if (!isStorable(key)) return unstorableIssue([...path, key], key);
      stack.push({ value: child, path: [...path, key] });
    }
  }
  return undefined;
}

function isPlainObject(value: object): boolean {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function unstorableIssue(path: (string | number)[], text: string): ValidationIssue {
  const message = text.includes('\u0000') ? 'must not contain the character \\u0000' : 'must be well-formed Unicode (no unpaired surrogate)';
  return { code: 'invalid_string', message, path };
}
