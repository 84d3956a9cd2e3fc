// `npm start` (and `npm run server` / `runner`): Patchbay from its compiled dist/, after compiling
// whatever source changed since dist/ was built (scripts/dist.mjs; nothing, after `npm install`).
// No TypeScript loader stays in the process: it starts faster, holds less and serves faster.
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import v8 from 'node:v8';
import vm from 'node:vm';
import { refreshDist } from './dist.mjs';

// V8 grows the main thread's young generation to 32 MB while Patchbay starts (migrations, the
// deploy at start) or serves a load, and keeps it: /proxy at 64 connections needs it (a 4 MB one
// cost a third of the throughput), an idle process does not. V8's memory reducer, which would give
// it back, was not seen to run on the main thread after the start (it does on the runner thread).
// So: once the event loop has been idle for a few seconds while the young generation is large, one
// full collection, after which V8 shrinks the young generation if little is being allocated
// (32 → 1 MB: `patchbay start`'s private memory 90-96 → 77 MB ten seconds after the start). It
// pauses the loop for tens of ms, only when nothing is going on, and only after a busy spell.
const TRIM_CHECK_MS = 500;
/** Event loop utilization under which a check interval counts as idle. */
const TRIM_IDLE_UTILIZATION = 0.05;
/**
 * V8 shrinks the young generation only when little was allocated over the last ~5 s of its
 * allocation record, which runs from one collection to the next, and grows it when much of it
 * survives. Collected 5 s into the idle spell after a start, it grew (16 → 32 MB: the start's last
 * allocations, up to a young generation's worth since its last scavenge, still counted and
 * survived); the retry 5.5 s later shrank it, ~12 s after the start. So the first two idle checks
 * scavenge (a few ms each): the first moves the start's survivors out, which V8 counts as
 * allocation until the next collection, which the second makes; a quiet record begins. The full
 * collection comes TRIM_QUIET_MS after the second scavenge, every check idle meanwhile: ~7 s after
 * a warm start began (with 1 s checks it was ~9 s, and a busy start could push it past the
 * 10-second idle sample of bench:footprint).
 */
const TRIM_SCAVENGES = 2;
const TRIM_QUIET_MS = 5500;
/** Consecutive idle checks before the first full collection, the one after the start. */
const TRIM_IDLE_CHECKS = TRIM_SCAVENGES + Math.ceil(TRIM_QUIET_MS / TRIM_CHECK_MS);
/**
 * After the first, a full collection waits for this long an idle spell: traffic that pauses for a
 * few seconds between bursts keeps its young generation. Shrunk, it has to grow back under the
 * next burst, with scavenges far more frequent meanwhile, each promoting the calls in flight:
 * bench:proxy, whose Patchbay idles ~8.5 s between its 2-second slices, measured it trimmed
 * before nearly every slice with 6.5 s, and its throughput against the reply-from forwarder
 * fell to 0.85×. A minute after a load ends, memory is still given back well in time.
 */
const TRIM_LATER_IDLE_MS = 20_000;
const TRIM_LATER_IDLE_CHECKS = Math.ceil(TRIM_LATER_IDLE_MS / TRIM_CHECK_MS);
/** A young generation up to this size is left alone (V8 starts at 1 MB and grows it under load). */
const TRIM_YOUNG_BYTES = 8 * 1024 * 1024;
/** After a collection that did not shrink it, the next may try this much later (then idle since). */
const TRIM_RETRY_MS = 5500;
/** After this many collections in a row that did not shrink it (something keeps allocating), tries are this far apart. */
const TRIM_TRIES = 3;
const TRIM_BACKOFF_MS = 60_000;

function trimWhenIdle() {
  let collect;
  try {
    // `gc` without exposing it to Patchbay's own code: only a context made while the flag is on gets it.
    v8.setFlagsFromString('--expose-gc');
    collect = vm.runInNewContext('gc');
  } finally {
    v8.setFlagsFromString('--no-expose-gc');
  }
  if (typeof collect !== 'function') return;
  const youngBytes = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;
  let last = performance.eventLoopUtilization();
  let idleChecks = 0;
  let notBefore = 0;
  let failed = 0;
  let needed = TRIM_IDLE_CHECKS;
  setInterval(() => {
    const now = performance.eventLoopUtilization();
    const idle = performance.eventLoopUtilization(now, last).utilization < TRIM_IDLE_UTILIZATION;
    last = now;
    idleChecks = idle ? idleChecks + 1 : 0;
    // The scavenges open the quiet record that the full collection needs (see TRIM_SCAVENGES).
    const scavengeFrom = needed - TRIM_IDLE_CHECKS + 1;
    if (idleChecks >= scavengeFrom && idleChecks < scavengeFrom + TRIM_SCAVENGES && youngBytes() > TRIM_YOUNG_BYTES && performance.now() >= notBefore) {
      collect({ type: 'minor' });
    }
    if (idleChecks < needed || performance.now() < notBefore) return;
    idleChecks = 0;
    if (youngBytes() > TRIM_YOUNG_BYTES) {
      collect({ type: 'major' });
      // A young generation below its maximum may be kept by the first collection: V8's resizing also
      // weighs what survived scavenges since it last changed size, which a start makes large. A second
      // one, the allocation record still quiet, shrinks it (measured: 16 → 16 → 1 MB in 3 of 4
      // starts, 32 → 1 MB at the first in the fourth).
      if (youngBytes() > TRIM_YOUNG_BYTES) collect({ type: 'major' });
    }
    failed = youngBytes() > TRIM_YOUNG_BYTES ? failed + 1 : 0;
    if (failed > 0) notBefore = performance.now() + (failed < TRIM_TRIES ? TRIM_RETRY_MS : TRIM_BACKOFF_MS);
    else needed = TRIM_LATER_IDLE_CHECKS;
    last = performance.eventLoopUtilization();
  }, TRIM_CHECK_MS).unref();
}

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
try {
  await refreshDist(root, { log: (message) => process.stderr.write(`patchbay: ${message}\n`) });
} catch (error) {
  process.stderr.write(`patchbay: could not compile the sources into dist/: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
}
trimWhenIdle();
// The bundle of `patchbay start` (scripts/dist.mjs), whatever the command: one file set, less memory.
await import(pathToFileURL(path.join(root, 'dist', 'start', 'patchbay.js')).href);
