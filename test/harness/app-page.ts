// A customer's app: a node:http server on 127.0.0.1 (its own port, so its own origin) serving a
// page that loads @nangohq/frontend as `window.Nango`, bundled by esbuild when the server starts.
// Tests drive it with page.evaluate: `new Nango({host, connectSessionToken}).auth(...)` or the
// helpers below around `openConnectUI`. Never imported by source code.
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { build } from 'esbuild';
import type { AuthError, ConnectUIEvent, default as Nango } from '@nangohq/frontend';
import type { Page } from 'playwright-core';

const ROOT = path.resolve(import.meta.dirname, '../..');

/** What the test page puts on `window`: the tsconfig has no DOM lib, so page code is typed through this. */
export interface AppWindow {
  Nango: typeof Nango;
  /** The frontend's error class, to tell its rejections from any other error. */
  NangoAuthError: typeof AuthError;
  /** Every event ConnectUI passed to `onEvent`, in order. */
  connectEvents: ConnectUIEvent[];
  /** The result or error of the last `auth()` started by authInPage. */
  authOutcome?: { ok: true; result: unknown } | { ok: false; type: string; message: string; isAuthError: boolean };
}

export interface AppPage {
  /** The app's origin, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Requests the app server received (paths), to show nothing else was fetched from it. */
  requests: string[];
  close(): Promise<void>;
}

// Loaded before the page's body: the test page has no other script.
const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Customer app</title><script src="/nango.js"></script></head>
<body><h1>Customer app</h1></body>
</html>`;

/** Bundles @nangohq/frontend (ESM with relative imports) into one classic script that sets window.Nango. */
export async function bundleNangoFrontend(): Promise<string> {
  const entry = createRequire(path.join(ROOT, 'package.json')).resolve('@nangohq/frontend');
  const result = await build({
    stdin: {
      contents: `import Nango, { AuthError } from ${JSON.stringify(entry)};\nwindow.Nango = Nango;\nwindow.NangoAuthError = AuthError;\nwindow.connectEvents = [];\n`,
      resolveDir: ROOT,
      loader: 'js',
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    target: 'es2022',
    write: false,
    logLevel: 'silent',
  });
  return result.outputFiles[0]?.text ?? '';
}

export async function startAppPage(): Promise<AppPage> {
  const script = await bundleNangoFrontend();
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    requests.push(url);
    const pathname = url.split('?')[0];
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(PAGE);
    } else if (pathname === '/nango.js') {
      res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
      res.end(script);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Opens the app page and waits until @nangohq/frontend is loaded. */
export async function gotoAppPage(page: Page, app: AppPage): Promise<void> {
  await page.goto(`${app.url}/`);
  await page.waitForFunction(() => typeof (globalThis as unknown as AppWindow).Nango === 'function');
}

export interface OpenConnectUIOptions {
  /** Patchbay's origin: Connect UI at `${patchbayUrl}/connect`, API at patchbayUrl. */
  patchbayUrl: string;
  sessionToken: string;
  baseURL?: string;
  apiURL?: string;
}

/** As a customer would: `new Nango({host, connectSessionToken}).openConnectUI({baseURL, apiURL, sessionToken, onEvent})`. */
export async function openConnectUI(page: Page, options: OpenConnectUIOptions): Promise<void> {
  const args = {
    host: options.patchbayUrl,
    sessionToken: options.sessionToken,
    baseURL: options.baseURL ?? `${options.patchbayUrl}/connect`,
    apiURL: options.apiURL ?? options.patchbayUrl,
  };
  await page.evaluate(({ host, sessionToken, baseURL, apiURL }) => {
    const app = globalThis as unknown as AppWindow;
    const nango = new app.Nango({ host, connectSessionToken: sessionToken });
    nango.openConnectUI({ baseURL, apiURL, sessionToken, onEvent: (event) => void app.connectEvents.push(event) });
  }, args);
}

/** The events ConnectUI has passed to onEvent so far. */
export async function connectEvents(page: Page): Promise<ConnectUIEvent[]> {
  return page.evaluate(() => (globalThis as unknown as AppWindow).connectEvents);
}

/** Waits for ConnectUI's onEvent to receive an event of this type, and returns it. */
export async function waitForConnectEvent<T extends ConnectUIEvent['type']>(page: Page, type: T, timeoutMs = 10_000): Promise<Extract<ConnectUIEvent, { type: T }>> {
  const handle = await page.waitForFunction((wanted) => (globalThis as unknown as AppWindow).connectEvents.find((event) => event.type === wanted), type, { timeout: timeoutMs });
  return (await handle.jsonValue()) as Extract<ConnectUIEvent, { type: T }>;
}

/**
 * Starts `new Nango({host, connectSessionToken}).auth(providerConfigKey, options)` (or
 * `.reconnect(…)`) in the page without waiting for it (its popup opens at once); read the
 * outcome with waitForAuthOutcome.
 */
export async function authInPage(
  page: Page,
  options: { patchbayUrl: string; sessionToken: string; providerConfigKey: string; authOptions?: Record<string, unknown>; method?: 'auth' | 'reconnect' },
): Promise<void> {
  await page.evaluate(({ patchbayUrl, sessionToken, providerConfigKey, authOptions, method }) => {
    const app = globalThis as unknown as AppWindow;
    delete app.authOutcome;
    const nango = new app.Nango({ host: patchbayUrl, connectSessionToken: sessionToken });
    const started = method === 'reconnect' ? nango.reconnect(providerConfigKey, authOptions as never) : nango.auth(providerConfigKey, authOptions as never);
    started.then(
      (result) => void (app.authOutcome = { ok: true, result }),
      (error: { type?: string; message?: string }) =>
        void (app.authOutcome = { ok: false, type: String(error.type ?? ''), message: String(error.message ?? error), isAuthError: error instanceof app.NangoAuthError }),
    );
  }, options);
}

export async function waitForAuthOutcome(page: Page, timeoutMs = 10_000): Promise<NonNullable<AppWindow['authOutcome']>> {
  const handle = await page.waitForFunction(() => (globalThis as unknown as AppWindow).authOutcome, undefined, { timeout: timeoutMs });
  return (await handle.jsonValue()) as NonNullable<AppWindow['authOutcome']>;
}
