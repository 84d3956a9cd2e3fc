// structuredClone, inside the isolate: the HTML structured clone algorithm for the values a
// function holds (primitives, objects, arrays, Date, RegExp, Map, Set, ArrayBuffer and its views,
// errors, boxed primitives), shared references and cycles kept. Not a host service: there, a clone
// of a million-object graph would cost the host's event loop seconds never charged to the run.
// Here its time and memory are the run's own, under its CPU and heap limits.
// Type checks use builtins captured before user code runs (a forged Symbol.toStringTag or a
// replaced Map.prototype.forEach fools nothing). Runs INSIDE the isolate.
import { arrayIsArray, objectDefineProperty, objectKeys, push, reflectApply, StringCtor, TypeErrorCtor } from './intrinsics.js';

const getter = (target: object, key: PropertyKey) => Object.getOwnPropertyDescriptor(target, key)?.get as (this: unknown) => unknown;
const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

const ObjectCtor = Object;
const ArrayCtor = Array;
const DateCtor = Date;
const RegExpCtor = RegExp;
const MapCtor = Map;
const SetCtor = Set;
const DataViewCtor = DataView;
const objectCreate = Object.create;
const functionToString = Function.prototype.toString;
const dateGetTime = Date.prototype.getTime;
const regExpSource = getter(RegExp.prototype, 'source');
const regExpFlags = getter(RegExp.prototype, 'flags');
const mapSize = getter(Map.prototype, 'size');
const mapForEach = Map.prototype.forEach;
const mapGet = Map.prototype.get;
const mapSet = Map.prototype.set;
const setSize = getter(Set.prototype, 'size');
const setForEach = Set.prototype.forEach;
const setAdd = Set.prototype.add;
const weakMapHas = WeakMap.prototype.has;
const weakSetHas = WeakSet.prototype.has;
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength');
const arrayBufferSlice = ArrayBuffer.prototype.slice;
const sharedArrayBufferByteLength = typeof SharedArrayBuffer === 'function' ? getter(SharedArrayBuffer.prototype, 'byteLength') : undefined;
const typedArrayTag = getter(TypedArrayPrototype, Symbol.toStringTag);
const typedArrayBuffer = getter(TypedArrayPrototype, 'buffer');
const typedArrayByteOffset = getter(TypedArrayPrototype, 'byteOffset');
const typedArrayLength = getter(TypedArrayPrototype, 'length');
const dataViewBuffer = getter(DataView.prototype, 'buffer');
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset');
const dataViewByteLength = getter(DataView.prototype, 'byteLength');
const booleanValueOf = Boolean.prototype.valueOf;
const numberValueOf = Number.prototype.valueOf;
const stringValueOf = String.prototype.valueOf;
const bigintValueOf = BigInt.prototype.valueOf;
const ErrorPrototype = Error.prototype;
const objectGetPrototypeOf = Object.getPrototypeOf;
const objectHasOwn = Object.hasOwn;

const TYPED_ARRAYS: Record<string, new (buffer: ArrayBuffer, byteOffset: number, length: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};
// What the algorithm keeps of an error: its constructor when it is one of these, else Error.
const ERRORS: Record<string, ErrorConstructor> = { Error, EvalError, RangeError, ReferenceError, SyntaxError, TypeError, URIError };

/** Whether calling `method` on `value` succeeds: the way builtins check their receiver's brand. */
function accepts(method: ((this: unknown, ...args: never[]) => unknown) | undefined, value: object, args: unknown[] = []): boolean {
  if (method === undefined) return false;
  try {
    reflectApply(method, value, args);
    return true;
  } catch {
    return false;
  }
}

function dataCloneError(value: unknown): Error {
  let shown: string;
  try {
    shown = typeof value === 'function' ? (reflectApply(functionToString, value, []) as string) : StringCtor(value);
  } catch {
    shown = typeof value;
  }
  const error = new TypeErrorCtor(`${shown.length > 100 ? `${shown.slice(0, 100)}…` : shown} could not be cloned.`);
  error.name = 'DataCloneError';
  return error;
}

function define(target: object, key: string, value: unknown, enumerable = true): void {
  // Not `target[key] = value`: a key named __proto__ would set the copy's prototype.
  objectDefineProperty(target, key, { value, writable: true, enumerable, configurable: true });
}

function cloneBuffer(buffer: ArrayBuffer, memory: Map<object, unknown>): ArrayBuffer {
  const known = reflectApply(mapGet, memory, [buffer]) as ArrayBuffer | undefined;
  if (known !== undefined) return known;
  const copy = reflectApply(arrayBufferSlice, buffer, [0]) as ArrayBuffer;
  reflectApply(mapSet, memory, [buffer, copy]);
  return copy;
}

function cloneValue(value: unknown, memory: Map<object, unknown>): unknown {
  if (typeof value === 'symbol' || typeof value === 'function') throw dataCloneError(value);
  if (typeof value !== 'object' || value === null) return value;
  const known = reflectApply(mapGet, memory, [value]) as unknown;
  if (known !== undefined) return known;
  const remember = <T>(copy: T): T => {
    reflectApply(mapSet, memory, [value, copy]);
    return copy;
  };

  if (accepts(dateGetTime, value)) return remember(new DateCtor(reflectApply(dateGetTime, value, []) as number));
  if (value !== RegExp.prototype && accepts(regExpSource, value)) {
    return remember(new RegExpCtor(reflectApply(regExpSource, value, []) as string, reflectApply(regExpFlags, value, []) as string));
  }
  if (accepts(booleanValueOf, value)) return remember(new ObjectCtor(reflectApply(booleanValueOf, value, [])));
  if (accepts(numberValueOf, value)) return remember(new ObjectCtor(reflectApply(numberValueOf, value, [])));
  if (accepts(stringValueOf, value)) return remember(new ObjectCtor(reflectApply(stringValueOf, value, [])));
  if (accepts(bigintValueOf, value)) return remember(new ObjectCtor(reflectApply(bigintValueOf, value, [])));
  if (accepts(arrayBufferByteLength, value)) return cloneBuffer(value as ArrayBuffer, memory);
  if (accepts(sharedArrayBufferByteLength, value) || accepts(weakMapHas, value, [{}]) || accepts(weakSetHas, value, [{}])) throw dataCloneError(value);
  const kind = reflectApply(typedArrayTag, value, []) as string | undefined;
  if (kind !== undefined) {
    const buffer = reflectApply(typedArrayBuffer, value, []) as ArrayBuffer;
    if (!accepts(arrayBufferByteLength, buffer)) throw dataCloneError(value);
    const View = TYPED_ARRAYS[kind] as (typeof TYPED_ARRAYS)[string];
    return remember(new View(cloneBuffer(buffer, memory), reflectApply(typedArrayByteOffset, value, []) as number, reflectApply(typedArrayLength, value, []) as number));
  }
  if (accepts(dataViewByteLength, value)) {
    const buffer = reflectApply(dataViewBuffer, value, []) as ArrayBuffer;
    if (!accepts(arrayBufferByteLength, buffer)) throw dataCloneError(value);
    return remember(new DataViewCtor(cloneBuffer(buffer, memory), reflectApply(dataViewByteOffset, value, []) as number, reflectApply(dataViewByteLength, value, []) as number));
  }
  if (accepts(mapSize, value)) {
    const copy = remember(new MapCtor());
    const entries: unknown[] = [];
    reflectApply(mapForEach, value, [
      (item: unknown, key: unknown) => {
        push(entries, key);
        push(entries, item);
      },
    ]);
    for (let index = 0; index < entries.length; index += 2) reflectApply(mapSet, copy, [cloneValue(entries[index], memory), cloneValue(entries[index + 1], memory)]);
    return copy;
  }
  if (accepts(setSize, value)) {
    const copy = remember(new SetCtor());
    const items: unknown[] = [];
    reflectApply(setForEach, value, [(item: unknown) => push(items, item)]);
    for (let index = 0; index < items.length; index++) reflectApply(setAdd, copy, [cloneValue(items[index], memory)]);
    return copy;
  }
  if (isError(value)) {
    const name = (value as { name?: unknown }).name;
    const Ctor = typeof name === 'string' && objectHasOwn(ERRORS, name) ? (ERRORS[name] as ErrorConstructor) : Error;
    const copy = remember(new Ctor());
    // Own and not enumerable, as on a thrown error.
    if (objectHasOwn(value, 'message')) define(copy, 'message', StringCtor((value as { message: unknown }).message), false);
    const stack = (value as { stack?: unknown }).stack;
    if (typeof stack === 'string') define(copy, 'stack', stack, false);
    return copy;
  }
  const copy = remember(arrayIsArray(value) ? new ArrayCtor((value as unknown[]).length) : objectCreate(ObjectCtor.prototype));
  const keys = objectKeys(value);
  for (let index = 0; index < keys.length; index++) {
    const key = keys[index] as string;
    define(copy, key, cloneValue((value as Record<string, unknown>)[key], memory));
  }
  return copy;
}

function isError(value: object): boolean {
  for (let prototype = objectGetPrototypeOf(value) as object | null; prototype !== null; prototype = objectGetPrototypeOf(prototype) as object | null) {
    if (prototype === ErrorPrototype) return true;
  }
  return false;
}

export function structuredClone<T>(value: T): T {
  if (arguments.length === 0) throw new TypeErrorCtor('structuredClone requires 1 argument');
  return cloneValue(value, new MapCtor()) as T;
}
