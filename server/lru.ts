// The one size-bounded map of the code base: a Map kept in recency order. `get` and `set` make an
// entry the most recent; past `capacity`, the least recent go, each handed to `onEvict` (to
// release what it holds). `peek` reads without reordering, for a cache whose order is that of
// insertion (first in, first out). Pure: no timers, no I/O.

export class Lru<K, V> {
  readonly #entries = new Map<K, V>();

  constructor(
    readonly capacity: number,
    private readonly onEvict: (value: V, key: K) => void = () => undefined,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  has(key: K): boolean {
    return this.#entries.has(key);
  }

  /** The value, made the most recent entry. */
  get(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    this.#entries.set(key, value);
    return value;
  }

  /** The value, its place in the order left as it was. */
  peek(key: K): V | undefined {
    return this.#entries.get(key);
  }

  /** Stores `value` as the most recent entry; a different value it replaces is evicted, as are the least recent past capacity. */
  set(key: K, value: V): void {
    if (this.#entries.has(key)) {
      const previous = this.#entries.get(key) as V;
      this.#entries.delete(key);
      if (previous !== value) this.onEvict(previous, key);
    }
    this.#entries.set(key, value);
    while (this.#entries.size > this.capacity) {
      const [oldestKey, oldest] = this.#entries.entries().next().value as [K, V];
      this.#entries.delete(oldestKey);
      this.onEvict(oldest, oldestKey);
    }
  }

  /** Removes the entry and evicts its value; false when there was none. */
  delete(key: K): boolean {
    if (!this.#entries.has(key)) return false;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    this.onEvict(value, key);
    return true;
  }

  /** Removes the entry and hands its value to the caller, who now owns it (not evicted). */
  take(key: K): V | undefined {
    if (!this.#entries.has(key)) return undefined;
    const value = this.#entries.get(key) as V;
    this.#entries.delete(key);
    return value;
  }

  /** The keys, least recent first (a copy: entries may be deleted while going through it). */
  keys(): K[] {
    return [...this.#entries.keys()];
  }

  /** Evicts every entry. */
  clear(): void {
    const entries = [...this.#entries];
    this.#entries.clear();
    for (const [key, value] of entries) this.onEvict(value, key);
  }
}
