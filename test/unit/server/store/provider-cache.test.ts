// The remembered connection → provider answers (server/store/provider-cache.ts).
import { describe, expect, it } from 'vitest';
import { createProviderCache } from '../../../../server/store/provider-cache.js';

function source(initial: Record<string, string>) {
  const providers = new Map(Object.entries(initial));
  const reads: string[] = [];
  let hold: Promise<void> | undefined;
  return {
    providers,
    reads,
    holdNextRead(until: Promise<void>) {
      hold = until;
    },
    async providerOf(key: string, id: string) {
      reads.push(`${key}/${id}`);
      const answer = providers.get(`${key}/${id}`);
      const waiting = hold;
      hold = undefined;
      if (waiting !== undefined) await waiting;
      return answer;
    },
  };
}

describe('provider cache', () => {
  it('reads a found connection once, and a missing one every time (a new connection is seen at once)', async () => {
    const db = source({ 'github/a': 'github' });
    const cache = createProviderCache(db);
    expect(await cache.providerOf('github', 'a')).toBe('github');
    expect(await cache.providerOf('github', 'a')).toBe('github');
    expect(await cache.providerOf('github', 'b')).toBeUndefined();
    db.providers.set('github/b', 'github');
    expect(await cache.providerOf('github', 'b')).toBe('github');
    expect(db.reads).toEqual(['github/a', 'github/b', 'github/b']);
  });

  it('forgets a connection, an integration, or everything when told', async () => {
    const db = source({ 'github/a': 'github', 'github/b': 'github', 'slack/a': 'slack' });
    const cache = createProviderCache(db);
    for (const [key, id] of [['github', 'a'], ['github', 'b'], ['slack', 'a']] as const) await cache.providerOf(key, id);
    db.providers.delete('github/a');
    cache.invalidate('github', 'a');
    expect(await cache.providerOf('github', 'a')).toBeUndefined();
    db.providers.set('github/b', 'github-enterprise');
    cache.invalidateIntegration('github');
    expect(await cache.providerOf('github', 'b')).toBe('github-enterprise');
    expect(await cache.providerOf('slack', 'a')).toBe('slack');
    db.providers.clear();
    cache.clear();
    expect(await cache.providerOf('slack', 'a')).toBeUndefined();
  });

  it('does not keep an answer read before the connection was deleted', async () => {
    const db = source({ 'github/a': 'github' });
    const cache = createProviderCache(db);
    let release = () => undefined as void;
    db.holdNextRead(new Promise<void>((resolve) => (release = resolve)));
    const reading = cache.providerOf('github', 'a');
    // Deleted while the read is on its way: its answer is given, not remembered.
    db.providers.delete('github/a');
    cache.invalidate('github', 'a');
    release();
    expect(await reading).toBe('github');
    expect(await cache.providerOf('github', 'a')).toBeUndefined();
  });

  it('reads an entry again after a minute whatever happened', async () => {
    let now = 0;
    const db = source({ 'github/a': 'github' });
    const cache = createProviderCache(db, { now: () => now });
    await cache.providerOf('github', 'a');
    now = 59_999;
    await cache.providerOf('github', 'a');
    now = 60_000;
    db.providers.delete('github/a');
    expect(await cache.providerOf('github', 'a')).toBeUndefined();
    expect(db.reads).toHaveLength(2);
  });
});
