import { describe, expect, it } from 'vitest';
import { mapStack, parseSourceMap } from '../../../runner/source-map.js';

// A map of a one-line bundle: column 0 ← own.ts 3:0, column 10 ← node_modules/pkg/index.js 3:0,
// column 20 ← own.ts 9:4 (0-based columns, as the map stores them).
const MAP = JSON.stringify({
  version: 3,
  sources: ['github/actions/own.ts', '../node_modules/pkg/index.js'],
  names: [],
  mappings: 'AAEA,UCAA,UDMI',
});

describe('runner/source-map', () => {
  it('rewrites bundle frames to source positions and picks the first frame in the author\'s code', () => {
    const stack = 'TypeError: boom\n    at helper (function.js:1:11)\n    at exec (function.js:1:21)';
    const mapped = mapStack(stack, parseSourceMap(MAP));
    expect(mapped.stack).toBe('TypeError: boom\n    at helper (../node_modules/pkg/index.js:3:1)\n    at exec (github/actions/own.ts:9:5)');
    expect(mapped.location).toEqual({ file: 'github/actions/own.ts', line: 9, column: 5 });
  });

  it('leaves the stack as it is without a map, or with one that does not parse', () => {
    const stack = 'Error: x\n    at function.js:1:1';
    expect(mapStack(stack, undefined)).toEqual({ stack, location: undefined });
    expect(parseSourceMap('not a map')).toBeUndefined();
  });
});
