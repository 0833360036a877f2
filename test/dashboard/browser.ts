/**
 * The browser for the dashboard's tests: Debian's Chromium driven by playwright-core, launched
 * as test/edge/chromium.test.ts launches it, and screenshots written to .artifacts/dashboard/
 * (always at the steps a test names, and on a failure).
 */
import { existsSync, mkdirSync } from "node:fs";
import { chromium, type Browser, type Page } from "playwright-core";

const CHROMIUM = "/usr/bin/chromium";
/** The launch flags of a headless Chromium on a closed network, as root (see the machine notes). */
const FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
const ARTIFACTS = new URL("../../.artifacts/dashboard/", import.meta.url).pathname;

/** Launches Chromium. @throws naming how to install it when it is missing. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`Chromium is not installed at ${CHROMIUM}: apt-get install -y chromium (.ci/run does)`);
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS });
}

/** A new page of a fixed size (the screenshots are comparable), in a context of its own (its own cookies). */
export async function newPage(browser: Browser): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  return context.newPage();
}

/** Saves a screenshot as .artifacts/dashboard/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}${name.replace(/[^a-z0-9-]+/gi, "-")}.png`, fullPage: true }).catch(() => undefined);
}

/**
 * Polls `read` until `accept` holds and returns that value (generous: a slow machine is not a
 * failure). @throws naming the last value read when it never held.
 */
export async function eventually<T>(read: () => Promise<T> | T, accept: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() > end) throw new Error(`still not so after ${timeoutMs} ms; last read: ${JSON.stringify(value)?.slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
