// What the benches read from /proc about the processes they measure: CPU time (the Patchbay
// process and its PostgreSQL children, and this process) and resident memory.
import { readFileSync } from 'node:fs';
import { processCpu } from './children.js';
import { round } from './load.js';

export interface CpuSnapshot {
  /** This (orchestrating) process. */
  here: number;
  patchbay: number | undefined;
  postgres: number | undefined;
}

export function cpuSnapshot(pid: number): CpuSnapshot {
  const usage = process.cpuUsage();
  const patchbay = processCpu(pid);
  return { here: usage.user + usage.system, patchbay: patchbay?.selfUs, postgres: patchbay?.descendantsUs };
}

/** CPU µs per unit of work (an action, a record) of each process; null without /proc. */
export function cpuPer(before: CpuSnapshot, after: CpuSnapshot, units: number, digits = 1) {
  const per = (key: keyof CpuSnapshot) => {
    const [a, b] = [before[key], after[key]];
    return a === undefined || b === undefined ? null : round((b - a) / units, digits);
  };
  return { patchbay: per('patchbay'), postgres: per('postgres'), here: per('here') };
}

/** Resident set size of a process, in MB (VmRSS, and its peak VmHWM), or null without /proc. */
export function rssMb(pid: number): { rss: number; peak: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
    return { rss: round(kb('VmRSS') / 1024, 1), peak: round(kb('VmHWM') / 1024, 1) };
  } catch {
    return null;
  }
}
