// Decides whether the embedded PostgreSQL, which exited without being asked to, is started
// again and after how long, or given up on. Pure: no timers, no I/O.

export interface RestartPolicy {
  /** Start attempts (successful or not) allowed within `windowMs`; one more gives up. */
  maxAttempts: number;
  windowMs: number;
  /** Wait before the second attempt of a window; it doubles with each further one. */
  baseDelayMs: number;
  maxDelayMs: number;
}

// A crash is restarted at once (PostgreSQL replays its WAL and is back in about a second). Five
// attempts within a minute, 0.5 s, 1 s, 2 s, 4 s apart, outlast orphaned backends and a briefly
// busy port; what still fails after ~8 s (a broken configuration, a full disk, a server that
// dies again after each start) will not mend itself, and an exit lets the supervisor of the
// process (systemd, Docker, a person) see it.
export const DEFAULT_RESTART_POLICY: RestartPolicy = { maxAttempts: 5, windowMs: 60_000, baseDelayMs: 500, maxDelayMs: 5000 };

export type RestartDecision = { action: 'restart'; delayMs: number } | { action: 'give_up'; attempts: number };

/** `attemptsAtMs`: when the earlier start attempts after unexpected exits began. */
export function decideRestart(attemptsAtMs: readonly number[], nowMs: number, policy: RestartPolicy = DEFAULT_RESTART_POLICY): RestartDecision {
  const recent = attemptsAtMs.filter((at) => nowMs - at < policy.windowMs).length;
  if (recent >= policy.maxAttempts) return { action: 'give_up', attempts: recent };
  if (recent === 0) return { action: 'restart', delayMs: 0 };
  return { action: 'restart', delayMs: Math.min(policy.baseDelayMs * 2 ** (recent - 1), policy.maxDelayMs) };
}
