// What the benchmark's server processes (upstream.ts, forwarder.ts, node-forwarder.ts) share:
// their settings from the environment, and how they end.
import type http from 'node:http';

export function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === '') throw new Error(`${name} is required`);
  return value;
}

/** Runs `close` once, then exits, on SIGTERM, SIGINT or stdin closing (the orchestrator died). */
export function exitOnStop(close: () => Promise<void>): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.stdin.once('close', stop).resume();
}

/** Closes a node:http server, cutting its keep-alive connections instead of waiting for them. */
export function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())));
}
