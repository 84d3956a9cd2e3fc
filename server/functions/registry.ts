// The deployed functions as the API sees them: looked up once, then served from memory until a
// deploy (announced on the change feed) or the TTL drops the copy.
import type { DeployedFunction, FunctionKind, Store } from '../store/index.js';

// A deploy elsewhere is announced at once; the TTL only covers a lost notification.
const REGISTRY_TTL_MS = 10_000;

export interface FunctionRegistry {
  find(integrationKey: string, kind: FunctionKind, name: string): Promise<DeployedFunction | undefined>;
  invalidate(): void;
}

export function createFunctionRegistry(store: Store, options: { ttlMs?: number; now?: () => number } = {}): FunctionRegistry {
  const ttlMs = options.ttlMs ?? REGISTRY_TTL_MS;
  const now = options.now ?? Date.now;
  let loaded: { at: number; byKey: Promise<Map<string, DeployedFunction>> } | undefined;

  const keyOf = (integrationKey: string, kind: FunctionKind, name: string) => `${integrationKey}\u0000${kind}\u0000${name}`;

  const current = () => {
    if (loaded === undefined || now() - loaded.at > ttlMs) {
      const byKey = store.functions.list().then((all) => new Map(all.map((f) => [keyOf(f.integrationKey, f.kind, f.name), f])));
      const entry = { at: now(), byKey };
      loaded = entry;
      // A failed load must not stick: the next lookup tries again.
      byKey.catch(() => {
        if (loaded === entry) loaded = undefined;
      });
    }
    return loaded.byKey;
  };

  return {
    async find(integrationKey, kind, name) {
      return (await current()).get(keyOf(integrationKey, kind, name));
    },
    invalidate() {
      loaded = undefined;
    },
  };
}
