// The shapes that cross the isolate boundary, shared by the host (runner/sandbox/*.ts) and the
// guest runtime (guest/*.ts). Types only: everything that crosses is plain, copied data.

/** What the guest's `nango` exposes: plain data from the run's context. */
export interface GuestContextData {
  connectionId: string;
  providerConfigKey: string;
  provider: string;
  activityLogId?: string | undefined;
  /** The provider's `proxy.paginate` defaults from the catalog. */
  paginate?: Record<string, unknown> | undefined;
  lastSyncDate?: string | null | undefined;
  variant?: string | undefined;
}

export type GuestKind = 'action' | 'sync' | 'on-event';

/** The one argument of the guest's entry point. */
export type GuestRequest =
  | {
      mode: 'run';
      kind: GuestKind;
      entry: 'exec' | 'onWebhook';
      input: unknown;
      context: GuestContextData;
      maxOutputBytes: number;
      /** Numbers the run within its context: operations carry it, and the host refuses any other. */
      runToken: number;
    }
  | { mode: 'inspect' };

/** What a host operation answers: a value, or a failure the guest turns into its own error. */
export type HostReply =
  | { ok: true; value: unknown; failureRef?: number }
  | { ok: false; failureRef: number; failure: HostFailureData };

/**
 * A failure as the guest sees it. `failureRef` numbers it within the run, so that when the
 * error escapes `exec` the guest reports the number and the host rebuilds the failure from its
 * own record, not from data user code could have changed.
 */
export interface HostFailureData {
  code: string;
  message: string;
  status?: number;
  response?: { status: number; headers: Record<string, string>; data: unknown };
}

/** How a run ended, as reported by the guest. The host validates every field. */
export type GuestResult = ({ ok: true; outputJson: string } | { ok: false; failure: GuestFailure }) & {
  /** The definition asks for a fresh context per run (`reuseContext: false`). */
  fresh?: true;
};

export type GuestFailure =
  | { type: 'action_error'; payloadJson: string }
  | { type: 'host_failure'; failureRef: number }
  | { type: 'internal_error'; name: string; message: string; stack: string }
  | { type: 'invalid_input'; issuesJson: string }
  | { type: 'invalid_output'; issuesJson: string }
  | { type: 'invalid_definition'; message: string }
  | { type: 'output_too_large'; bytes: number }
  | { type: 'output_not_json'; message: string };

/** What `inspect` reads from a definition. */
export type GuestInspection = { ok: true; summary: Record<string, unknown> } | { ok: false; message: string };

/** Synchronous host services (pure computations on the host: no I/O, no state but the run's timers and log). */
export type SyncServiceName =
  | 'url.parse'
  | 'url.set'
  | 'search.parse'
  | 'search.serialize'
  | 'text.encode'
  | 'text.decode'
  | 'base64.encode'
  | 'base64.decode'
  | 'crypto.uuid'
  | 'crypto.random'
  | 'crypto.hash'
  | 'crypto.hmac'
  | 'crypto.sign'
  | 'crypto.verify'
  | 'crypto.pbkdf2'
  | 'crypto.cipher'
  | 'timer.clear'
  | 'log';

/** A synchronous service answers `[true, value]` or `[false, errorName, message]`. */
export type SyncReply = [true, unknown] | [false, string, string];

/** The components of a parsed URL (WHATWG), as the host's URL computes them. */
export interface UrlParts {
  href: string;
  origin: string;
  protocol: string;
  username: string;
  password: string;
  host: string;
  hostname: string;
  port: string;
  pathname: string;
  search: string;
  hash: string;
}

export const GUEST_BOOTSTRAP_GLOBAL = '__patchbay_bootstrap';
export const GUEST_EXPORTS_GLOBAL = '__patchbay_exports';
/** Script names in guest stack traces: frames of `FUNCTION_FILENAME` are kept, others dropped. */
export const FUNCTION_FILENAME = 'function.js';
export const RUNTIME_FILENAME = 'patchbay-runtime.js';
