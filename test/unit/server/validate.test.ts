import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { exceedsDepth, findUnstorableText, mapKey, MAX_JSON_DEPTH, parseInput } from '../../../server/validate.js';

const nested = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { a: value } : [value];
  return value;
};

describe('exceedsDepth', () => {
  it.each([
    ['a scalar', 1, 0, false],
    ['an empty object at its bound', {}, 1, false],
    ['an empty array over its bound', [], 0, true],
    [`${MAX_JSON_DEPTH} levels`, nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH, false],
    [`${MAX_JSON_DEPTH + 1} levels`, nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH, true],
    ['a wide, shallow value', { list: Array.from({ length: 10_000 }, (_, i) => ({ i })) }, 3, false],
  ])('%s', (_name, value, maxDepth, expected) => {
    expect(exceedsDepth(value, maxDepth)).toBe(expected);
  });

  it('walks 100 000 levels without overflowing the stack', () => {
    expect(exceedsDepth(JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)), MAX_JSON_DEPTH)).toBe(true);
  });
});

describe('findUnstorableText', () => {
  it.each([
    ['plain text', { a: 'b', c: [1, 'd', null], when: new Date(0) }, undefined],
    ['a surrogate pair (emoji)', { a: '\u{1F600}' }, undefined],
    ['NUL in a value', { a: { b: ['x', 'y\u0000'] } }, ['a', 'b', 1]],
    ['NUL in a key', { a: { 'k\u0000': 1 } }, ['a', 'k\u0000']],
    ['an unpaired high surrogate', { a: 'x\uD800' }, ['a']],
    ['an unpaired low surrogate at the top', '\uDC00', []],
  ])('%s', (_name, value, path) => {
    expect(findUnstorableText(value)?.path).toEqual(path);
  });
});

describe('parseInput', () => {
  it('refuses text PostgreSQL cannot store with the kind asked for, naming the field', () => {
    const schema = z.object({ search: z.string() });
    const error = (() => {
      try {
        parseInput(schema, { search: 'a\u0000' }, 'invalid_query_params');
      } catch (caught) {
        return caught as { code: string; fields: { errors: unknown[] } };
      }
      return undefined;
    })();
    expect(error?.code).toBe('invalid_query_params');
    expect(error?.fields.errors).toEqual([{ code: 'invalid_string', message: 'must not contain the character \\u0000', path: ['search'] }]);
  });

  it.each(['constructor', 'prototype'])('refuses the map key %s with its own reason', (key) => {
    const schema = z.record(mapKey, z.string());
    expect(() => parseInput(schema, { [key]: 'x' }, 'invalid_body')).toThrow(/key must not be __proto__, constructor or prototype/);
  });
});
