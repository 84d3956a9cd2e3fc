// Builtins the guest runtime uses after user code has started, captured before any user code runs:
// a function that replaces JSON.stringify or WeakMap.prototype.get can break its own run but not
// change how the runtime reports it. Runs INSIDE the isolate.

export const jsonStringify = JSON.stringify;
export const jsonParse = JSON.parse;
export const reflectApply = Reflect.apply;
export const objectKeys = Object.keys;
export const objectHasOwn = Object.hasOwn;
export const objectDefineProperty = Object.defineProperty;
export const arrayIsArray = Array.isArray;
export const StringCtor = String;
export const ErrorCtor = Error;
export const TypeErrorCtor = TypeError;
export const RangeErrorCtor = RangeError;
export const PromiseCtor = Promise;
export const MapCtor = Map;
export const Uint8ArrayCtor = Uint8Array;
export const ArrayBufferCtor = ArrayBuffer;
export const arrayBufferIsView = ArrayBuffer.isView;

const WeakMapCtor = WeakMap;
const objectCreate = Object.create;
const objectFreeze = Object.freeze;
const weakMapGet = WeakMap.prototype.get;
const weakMapSet = WeakMap.prototype.set;
const weakMapHas = WeakMap.prototype.has;
const stringSplit = String.prototype.split;
const stringSlice = String.prototype.slice;
const stringIncludes = String.prototype.includes;
const stringIndexOf = String.prototype.indexOf;
const stringStartsWith = String.prototype.startsWith;
const arrayJoin = Array.prototype.join;
const arrayPush = Array.prototype.push;

/** A WeakMap whose methods user code cannot replace (it sees neither the map nor its methods). */
export class SealedWeakMap<K extends object, V> {
  readonly #map = new WeakMapCtor<K, V>();
  get(key: K): V | undefined {
    return reflectApply(weakMapGet, this.#map, [key]) as V | undefined;
  }
  set(key: K, value: V): void {
    reflectApply(weakMapSet, this.#map, [key, value]);
  }
  has(key: K): boolean {
    return reflectApply(weakMapHas, this.#map, [key]) as boolean;
  }
}

export const split = (text: string, separator: string): string[] => reflectApply(stringSplit, text, [separator]) as string[];
export const slice = (text: string, start: number, end?: number): string => reflectApply(stringSlice, text, end === undefined ? [start] : [start, end]) as string;
export const includes = (text: string, part: string): boolean => reflectApply(stringIncludes, text, [part]) as boolean;
export const indexOf = (text: string, part: string, from: number): number => reflectApply(stringIndexOf, text, [part, from]) as number;
export const startsWith = (text: string, part: string): boolean => reflectApply(stringStartsWith, text, [part]) as boolean;
export const join = (items: string[], separator: string): string => reflectApply(arrayJoin, items, [separator]) as string;
export const push = <T>(items: T[], item: T): void => {
  reflectApply(arrayPush, items, [item]);
};

/** A null-prototype frozen object: what isolated-vm reads as options, so Object.prototype cannot add any. */
export function sealedOptions<T extends object>(value: T): T {
  const target = objectCreate(null) as T;
  for (const key of objectKeys(value) as (keyof T)[]) {
    const item = value[key];
    target[key] = (typeof item === 'object' && item !== null ? sealedOptions(item) : item) as T[keyof T];
  }
  return objectFreeze(target);
}
