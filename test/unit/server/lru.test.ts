import { describe, expect, it } from 'vitest';
import { Lru } from '../../../server/lru.js';

function lruOf(capacity: number) {
  const evicted: [string, string][] = [];
  const lru = new Lru<string, string>(capacity, (value, key) => void evicted.push([key, value]));
  return { lru, evicted };
}

describe('Lru', () => {
  it('evicts the least recently used past capacity; get makes an entry the most recent, peek does not', () => {
    const { lru, evicted } = lruOf(2);
    lru.set('a', 'A');
    lru.set('b', 'B');
    expect(lru.get('a')).toBe('A');
    lru.set('c', 'C');
    expect(evicted).toEqual([['b', 'B']]);
    expect(lru.peek('a')).toBe('A');
    lru.set('d', 'D');
    expect(evicted).toEqual([['b', 'B'], ['a', 'A']]);
    expect(lru.size).toBe(2);
    expect([lru.has('c'), lru.has('d')]).toEqual([true, true]);
  });

  it('evicts a value replaced by another, not one set again', () => {
    const { lru, evicted } = lruOf(2);
    lru.set('a', 'A');
    lru.set('a', 'A');
    expect(evicted).toEqual([]);
    lru.set('a', 'A2');
    expect(evicted).toEqual([['a', 'A']]);
    expect(lru.get('a')).toBe('A2');
    expect(lru.size).toBe(1);
  });

  it('set moves an existing key to the most recent place', () => {
    const { lru, evicted } = lruOf(2);
    lru.set('a', 'A');
    lru.set('b', 'B');
    lru.set('a', 'A');
    lru.set('c', 'C');
    expect(evicted).toEqual([['b', 'B']]);
  });

  it('delete evicts, take hands the value over without evicting, clear evicts everything', () => {
    const { lru, evicted } = lruOf(3);
    lru.set('a', 'A');
    lru.set('b', 'B');
    lru.set('c', 'C');
    expect(lru.take('a')).toBe('A');
    expect(lru.take('a')).toBeUndefined();
    expect(evicted).toEqual([]);
    expect(lru.delete('b')).toBe(true);
    expect(lru.delete('b')).toBe(false);
    expect(evicted).toEqual([['b', 'B']]);
    lru.set('d', 'D');
    lru.clear();
    expect(evicted).toEqual([['b', 'B'], ['c', 'C'], ['d', 'D']]);
    expect(lru.size).toBe(0);
  });

  it('keeps undefined values as entries', () => {
    const lru = new Lru<string, string | undefined>(2);
    lru.set('missing', undefined);
    expect(lru.has('missing')).toBe(true);
    expect(lru.get('missing')).toBeUndefined();
    lru.set('x', 'X');
    lru.get('missing');
    lru.set('y', 'Y');
    expect(lru.has('missing')).toBe(true);
    expect(lru.has('x')).toBe(false);
  });

  it('holds nothing with capacity 0', () => {
    const { lru, evicted } = lruOf(0);
    lru.set('a', 'A');
    expect(lru.size).toBe(0);
    expect(evicted).toEqual([['a', 'A']]);
  });
});
