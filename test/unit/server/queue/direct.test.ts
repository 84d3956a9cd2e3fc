// The run slots a runner shares with the request side (server/queue/direct.ts): one count that
// both take from, across threads, and the queue's precedence over runs handed over directly.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRunSlots } from '../../../../server/queue/direct.js';

describe('run slots', () => {
  it('hands out at most their capacity, in any mix of batch and single takes', () => {
    const slots = createRunSlots(4);
    expect(slots.take(3)).toBe(3);
    expect(slots.takeDirect()).toBe(true);
    expect(slots.takeDirect()).toBe(false);
    expect(slots.take(2)).toBe(0);
    slots.give(2);
    expect(slots.inUse).toBe(2);
    expect(slots.take(5)).toBe(2);
    expect(slots.inUse).toBe(4);
  });

  it('refuses direct runs while the queue may hold runs that came first, whatever is free', () => {
    const slots = createRunSlots(4);
    slots.queueWaiting = true;
    expect(slots.takeDirect()).toBe(false);
    expect(slots.take(1)).toBe(1);
    slots.queueWaiting = false;
    expect(slots.takeDirect()).toBe(true);
    expect(slots.inUse).toBe(2);
  });

  it('counts the same slots in two threads over one SharedArrayBuffer', async () => {
    const slots = createRunSlots(1000);
    // Another thread takes and gives back 1 slot 100,000 times while this one does the same:
    // a lost update would leave the count off zero.
    const other = new Worker(
      `const { workerData } = require('node:worker_threads');
       const counter = new Int32Array(workerData, 0, 2);
       for (let i = 0; i < 100000; i++) {
         for (;;) {
           const used = Atomics.load(counter, 0);
           if (Atomics.compareExchange(counter, 0, used, used + 1) === used) break;
         }
         Atomics.sub(counter, 0, 1);
       }`,
      { eval: true, workerData: slots.buffer },
    );
    const done = new Promise((resolve, reject) => {
      other.once('exit', resolve);
      other.once('error', reject);
    });
    let refused = 0;
    for (let i = 0; i < 100_000; i++) {
      if (slots.take(1) !== 1) refused++;
      slots.give(1);
    }
    await done;
    expect(refused).toBe(0);
    expect(slots.inUse).toBe(0);
    // And a flag set here is seen there.
    const mirror = createRunSlots(1000, slots.buffer);
    slots.queueWaiting = true;
    expect(mirror.queueWaiting).toBe(true);
  });
});
