import { describe, expect, it } from 'vitest';
import { structuredClone as guestClone } from '../../../../../runner/sandbox/guest/clone.js';

// The guest's structuredClone runs in the isolate, on the run's CPU and heap; here it runs in
// Node and is compared with Node's own (V8's serializer, the behaviour it replaces).
describe('guest structuredClone', () => {
  it('copies what Node copies, the same way', () => {
    const buffer = new ArrayBuffer(8);
    const shared = { n: 1 };
    const values: unknown[] = [
      1,
      'text',
      null,
      undefined,
      10n,
      { a: [1, , 3], b: { c: 'd' }, when: new Date(86_400_000) },
      new Map<unknown, unknown>([
        ['k', { n: 1 }],
        [{ key: true }, [1, 2]],
      ]),
      new Set([1, 'two', { three: 3 }]),
      /a+b/giu,
      new Uint8Array([1, 2, 3]),
      new Float64Array([1.5, -2]),
      new DataView(new ArrayBuffer(4), 1, 2),
      { first: new Uint8Array(buffer, 0, 4), second: new Uint16Array(buffer, 4, 2) },
      [shared, shared],
      Object.assign(new Boolean(false), {}),
      new Number(7),
      new String('boxed'),
      Object(5n),
      new RangeError('too far'),
    ];
    for (const value of values) expect(guestClone(value)).toStrictEqual(structuredClone(value));
  });

  it('keeps shared references and cycles', () => {
    const node: Record<string, unknown> = { name: 'loop' };
    node.self = node;
    const buffer = new ArrayBuffer(4);
    const copy = guestClone({ node, views: [new Uint8Array(buffer), new Uint8Array(buffer, 2)] as const });
    expect(copy.node.self).toBe(copy.node);
    expect(copy.node).not.toBe(node);
    expect(copy.views[0].buffer).toBe(copy.views[1].buffer);
    expect(copy.views[0].buffer).not.toBe(buffer);
  });

  it('gives class instances back as plain objects of their own enumerable fields', () => {
    class Point {
      #secret = 1;
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
      get sum() {
        return this.x + this.y + this.#secret;
      }
    }
    const copy = guestClone(new Point(1, 2));
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(copy).toEqual({ x: 1, y: 2 });
  });

  it('does not let a key named __proto__ set the prototype of the copy', () => {
    const copy = guestClone(JSON.parse('{"__proto__": {"polluted": true}, "a": 1}')) as Record<string, unknown>;
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(Object.hasOwn(copy, '__proto__')).toBe(true);
    expect(copy.polluted).toBeUndefined();
  });

  it('is not fooled by a forged toStringTag or a replaced Map.prototype.forEach', () => {
    const fake = { [Symbol.toStringTag]: 'Map', size: 3 };
    expect(guestClone(fake)).toEqual({ size: 3 });
    const forEach = Map.prototype.forEach;
    try {
      Map.prototype.forEach = () => undefined;
      expect(guestClone(new Map([[1, 2]]))).toEqual(new Map([[1, 2]]));
    } finally {
      Map.prototype.forEach = forEach;
    }
  });

  it('refuses functions, symbols, weak collections and shared memory with a DataCloneError', () => {
    for (const value of [() => 1, { nested: [Symbol('s')] }, new WeakMap(), new WeakSet(), new SharedArrayBuffer(4)]) {
      expect(() => guestClone(value)).toThrow(expect.objectContaining({ name: 'DataCloneError', message: expect.stringMatching(/could not be cloned/) }));
    }
  });
});
