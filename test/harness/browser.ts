// One headless Chromium per test file: Debian's /usr/bin/chromium driven by playwright-core
// (Playwright's own browser download cannot work here). Never imported by source code.
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM_PATH = '/usr/bin/chromium';

// --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start. The rest keep the
// browser off the network: no QUIC, no background, component-update or sync traffic.
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--headless',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// A first launch on a shared 2-core machine takes about a second; 30 s means it is broken.
const LAUNCH_TIMEOUT_MS = 30_000;

export interface TestBrowser {
  browser: Browser;
  /** A fresh context (own cookies and storage), closed by stop(). */
  newContext(): Promise<BrowserContext>;
  /** A page in a fresh context; its popups arrive as `context.on('page')` / `page.on('popup')`. */
  newPage(): Promise<{ context: BrowserContext; page: Page }>;
  stop(): Promise<void>;
}

/**
 * Launches the browser. `chromium.launch` gives each launch a fresh user-data dir of its own
 * (a `playwright_chromiumdev_profile-*` temp dir, removed on close), so one launch per test file
 * means one profile per test file.
 */
export async function launchBrowser(): Promise<TestBrowser> {
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: LAUNCH_TIMEOUT_MS });
  const contexts: BrowserContext[] = [];
  const newContext = async () => {
    const context = await browser.newContext();
    contexts.push(context);
    return context;
  };
  return {
    browser,
    newContext,
    async newPage() {
      const context = await newContext();
      return { context, page: await context.newPage() };
    },
    async stop() {
      await Promise.allSettled(contexts.map((context) => context.close()));
      await browser.close();
    },
  };
}
