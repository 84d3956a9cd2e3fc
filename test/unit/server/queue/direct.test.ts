// The run slots a runner shares with the request side (server/queue/direct.ts): the slots its
// runs take, the runs handed over to it, and whether tickets may wait — one set of counters that
// two threads read and change.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { createRunSlots } from '../../../../server/queue/direct.js';

describe('run slots', () => {
  it('hands out at most their capacity of slots, in any mix of batch and single takes', () => {
    const slots = createRunSlots(4);
    expect(slots.take(3)).toBe(3);
    expect(slots.take(1)).toBe(1);
    expect(slots.take(2)).toBe(0);
    slots.give(2);
    expect(slots.inUse).toBe(2);
    expect(slots.take(5)).toBe(2);
    expect(slots.inUse).toBe(4);
  });

  it('takes handed-over runs up to the capacity plus those allowed to wait', () => {
    const slots = createRunSlots(2, undefined, 3);
    const taken = Array.from({ length: 6 }, () => slots.takeHanded());
    expect(taken).toEqual([true, true, true, true, true, false]);
    slots.handedDone();
    expect(slots.handed).toBe(4);
    expect(slots.takeHanded()).toBe(true);
    // Handed-over runs and slots are counted apart: a run takes its slot when it starts.
    expect(slots.inUse).toBe(0);
  });

  it('counts the same slots in two threads over one SharedArrayBuffer', async () => {
    const slots = createRunSlots(1000);
    // Another thread takes and gives back 1 slot 100,000 times while this one does the same:
    // a lost update would leave the count off zero.
    const other = new Worker(
      `const { workerData } = require('node:worker_threads');
       const counter = new Int32Array(workerData, 0, 3);
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
