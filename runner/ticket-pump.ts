// The runner's side of the queue: fetch tickets for the slots that are free, claim their runs,
// launch them, and complete the tickets in batches off the runs' path. It also tells the shared
// slots whether tickets may be waiting, so that runs handed over directly take turns with them.
import { ACTION_QUEUE, SYNC_QUEUE, type JobQueue, type QueueName, type RunSlots, type Wake } from '../server/queue/index.js';
import type { ClaimedRun, Store } from '../server/store/index.js';

// A sync's next run waits while the previous one still runs; its ticket is looked at again
// after this long.
const BUSY_SYNC_RETRY_SECONDS = 5;

export interface TicketPumpDeps {
  queue: JobQueue;
  /** Wakes the runners when a ticket sent for later becomes due. */
  wake: Pick<Wake, 'jobDueIn'>;
  store: Store;
  slots: RunSlots;
  runnerId: string;
  /** Starts a claimed run in the slot taken for it. */
  launch: (run: ClaimedRun) => void;
  isRunning: () => boolean;
}

export interface TicketPump {
  /** Drains both queues while slots are free (one pass; the worker's sleeping loop serializes passes). */
  pass(): Promise<void>;
  /** A ticket may have been queued (a NOTIFY, the poll): the queue counts as waiting until a pass drains it. */
  noteQueued(): void;
  /** Completes the tickets whose runs were claimed since the last call. */
  completeTickets(): Promise<void>;
}

type QueueLook = 'more' | 'full' | 'drained';

export function createTicketPump(deps: TicketPumpDeps): TicketPump {
  const { queue, store, slots } = deps;
  // Whether tickets may wait that no pass has looked at (a pass that found every slot busy
  // could not look); runs handed over directly do not overtake them (runner/worker.ts).
  let maybeWaiting = true;

  // Tickets are done once their runs are claimed (by us or anyone): the run row is the truth.
  // A ticket left open by a crash expires and comes back, and its claim then changes nothing.
  const toComplete = new Map<QueueName, string[]>([
    [ACTION_QUEUE, []],
    [SYNC_QUEUE, []],
  ]);

  const fetchAndLaunch = async (name: QueueName, free: number, launched: () => void): Promise<QueueLook> => {
    const tickets = await queue.fetch(name, free);
    if (tickets.length === 0) return 'drained';
    const runIds = [...new Set(tickets.map((t) => t.runId))];
    const claimed = await store.runs.claim(runIds, deps.runnerId);
    for (const run of claimed) {
      launched();
      deps.launch(run);
    }
    // Runs are written before their tickets, so a ticket whose run is not queued any more is a
    // duplicate (a retried or re-issued ticket): done. A sync still queued waits for its
    // previous run to end: its ticket comes back a little later.
    if (name === SYNC_QUEUE && claimed.length < runIds.length) {
      const claimedIds = new Set(claimed.map((run) => run.id));
      for (const runId of await store.runs.stillQueued(runIds.filter((runId) => !claimedIds.has(runId)))) {
        await queue.enqueue(SYNC_QUEUE, runId, { startAfterSeconds: BUSY_SYNC_RETRY_SECONDS });
        deps.wake.jobDueIn(SYNC_QUEUE, BUSY_SYNC_RETRY_SECONDS * 1000);
      }
    }
    toComplete.get(name)?.push(...tickets.map((t) => t.jobId));
    return tickets.length === free ? 'more' : 'drained';
  };

  /** One queue: `more` when it may have more, `full` when no slot was free to look, `drained` when it had fewer than asked. */
  const pumpQueue = async (name: QueueName): Promise<QueueLook> => {
    // Slots are taken before fetching (a request may hand a run over meanwhile) and the ones no
    // run came for are given back.
    const free = slots.take(slots.capacity);
    if (free === 0) return 'full';
    let launched = 0;
    try {
      return await fetchAndLaunch(name, free, () => launched++);
    } finally {
      slots.give(free - launched);
    }
  };

  return {
    async pass() {
      while (deps.isRunning()) {
        const actions = await pumpQueue(ACTION_QUEUE);
        const syncs = await pumpQueue(SYNC_QUEUE);
        if (actions === 'drained' && syncs === 'drained') maybeWaiting = false;
        slots.queueWaiting = maybeWaiting || actions === 'more' || syncs === 'more';
        if (actions !== 'more' && syncs !== 'more') return;
      }
    },
    noteQueued() {
      maybeWaiting = true;
      slots.queueWaiting = true;
    },
    async completeTickets() {
      for (const [name, ids] of toComplete) {
        if (ids.length === 0) continue;
        toComplete.set(name, []);
        await queue.complete(name, ids);
      }
    },
  };
}
