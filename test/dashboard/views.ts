/**
 * One helper per view of the dashboard, each a person's steps: open it, read what it shows,
 * press its buttons. The selectors are the page's ids and data attributes.
 */
import type { Locator, Page } from "playwright-core";
import { eventually } from "./browser.js";

/** Numbers as the page shows them ("1,234,567"). */
export const shownNumber = (text: string | null): number => Number((text ?? "").replace(/[^0-9.-]/g, ""));

/**
 * Opens the view at `hash` by the address a person is given: the dashboard's URL with its token
 * and the view (the server swaps the token for a session cookie; the view stays in the address).
 */
export async function openDashboard(page: Page, url: string, hash = "#/processes"): Promise<void> {
  await page.goto(url + hash);
  await page.locator("#connection[data-state=live]").waitFor({ timeout: 20_000 });
}

/** Goes to a view by its address, as a person following a link would. */
export async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
}

/** The process table. */
export function processes(page: Page) {
  const row = (pid: number): Locator => page.locator(`#processes tr[data-pid="${pid}"]`);
  return {
    row,
    state: (pid: number) => row(pid).locator("td.state").textContent(),
    fuel: async (pid: number) => shownNumber(await row(pid).locator("td.fuel").textContent()),
    press: (pid: number, signal: string) => row(pid).getByRole("button", { name: signal, exact: true }).click(),
  };
}

/** A run's page: its facts, timeline and chart. */
export function runPage(page: Page) {
  return {
    rows: page.locator("#timeline tbody tr"),
    row: (seq: number) => page.locator(`#timeline tr[data-seq="${seq}"]`),
    filterEffect: (effect: string) => page.locator("#filter-effect").selectOption(effect),
    filterAction: (action: string) => page.locator("#filter-action").fill(action),
    status: () => page.locator("#run-facts dd.status").textContent(),
    jsonDialog: page.locator("#json-dialog"),
    /** The open event's JSON, once it has loaded. */
    jsonText: () => eventually(() => page.locator("#json-body").textContent(), (t) => t !== null && t !== "loading…"),
    chartSeries: (name: string) => page.locator(`#run-chart g[data-series="${name}"]`),
  };
}

/** The policy editor. */
export function policyEditor(page: Page) {
  return {
    text: page.locator("#policy-text"),
    state: page.locator("#policy-state"),
    problems: page.locator("#policy-problems li"),
    badLines: page.locator("#policy-gutter div.bad"),
    save: page.locator("#policy-save"),
    saved: page.locator("#policy-saved"),
  };
}
