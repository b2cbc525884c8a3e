/// <reference lib="dom" />
/**
 * Browser test helpers: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), a test wrapper that adds every open page's text to
 * the error when a test fails, and waits that say what they wait for.
 */

import {
  type Browser,
  type BrowserContextOptions,
  chromium,
  type Page,
  type Response,
} from "playwright-core";

export const CHROMIUM_PATH = Deno.env.get("CHROMIUM_PATH") ??
  "/usr/bin/chromium";

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** False when there is no browser: the tests are then registered as ignored. */
export const CHROMIUM_FOUND = isFile(CHROMIUM_PATH);

if (!CHROMIUM_FOUND) {
  // Said once, plainly, so a run without a browser never looks like a pass.
  console.log(
    `Chromium not found at ${CHROMIUM_PATH}: browser tests NOT RUN (apt-get install chromium)`,
  );
}

const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
  "--disable-quic",
];

/** Default for every wait and action; a test that needs longer says so. */
export const WAIT_MS = 5000;

export const ENGLISH: BrowserContextOptions = { locale: "en-US" };
export const SPANISH: BrowserContextOptions = { locale: "es-ES" };

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: CHROMIUM_ARGS,
  });
}

export interface BrowserTest {
  browser: Browser;
  /** A page in a fresh context (its own storage), short default timeouts. */
  newPage(options?: BrowserContextOptions): Promise<Page>;
  /** `newPage` + `gotoChat`. */
  openChat(url: string, options?: BrowserContextOptions): Promise<Page>;
}

/**
 * Registers a Deno test that gets its own Chromium, closed in `finally`.
 * When the test fails, the text of every page still open is added to the
 * error, so a failure shows what the user would have seen.
 */
export function browserTest(
  name: string,
  fn: (t: BrowserTest) => Promise<void>,
): void {
  Deno.test({
    name,
    ignore: !CHROMIUM_FOUND,
    // Playwright keeps pipe reads and timers of its own in flight between
    // calls; they end with the browser but not always within the test's tick.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const browser = await launchChromium();
      const pages: Page[] = [];
      const newPage = async (options: BrowserContextOptions = {}) => {
        const context = await browser.newContext(options);
        context.setDefaultTimeout(WAIT_MS);
        const page = await context.newPage();
        pages.push(page);
        return page;
      };
      try {
        await fn({
          browser,
          newPage,
          async openChat(url, options) {
            const page = await newPage(options);
            await gotoChat(page, url);
            return page;
          },
        });
      } catch (error) {
        throw new Error(
          `${error instanceof Error ? error.message : error}${await dumpPages(
            pages,
          )}`,
          { cause: error },
        );
      } finally {
        await browser.close();
      }
    },
  });
}

async function dumpPages(pages: readonly Page[]): Promise<string> {
  let dump = "";
  for (const [index, page] of pages.entries()) {
    if (page.isClosed()) continue;
    const text = await Promise.race([
      page.evaluate(() => document.body.innerText).catch((e) => `(${e})`),
      new Promise<string>((r) => setTimeout(() => r("(no answer)"), 2000)),
    ]);
    dump += `\n\n--- page ${index + 1} (${page.url()}) ---\n${text}`;
  }
  return dump;
}

/** Opens the chat at `url` and waits until the server has welcomed it. */
export async function gotoChat(page: Page, url: string): Promise<Response> {
  const response = await page.goto(url);
  if (response === null) throw new Error(`No response for "${url}"`);
  await waitForConnection(page, "open");
  return response;
}

/**
 * Waits until `predicate(arg)` is true in the page; on timeout the error
 * names `what` (and `browserTest` adds the page text).
 */
export async function waitUntil<A>(
  page: Page,
  what: string,
  predicate: (arg: A) => boolean,
  arg: A,
  timeout = WAIT_MS,
): Promise<void> {
  try {
    await page.waitForFunction(predicate, arg, { timeout, polling: "raf" });
  } catch (error) {
    throw new Error(`Timed out after ${timeout} ms waiting for ${what}`, {
      cause: error,
    });
  }
}

export function waitForConnection(
  page: Page,
  phase: "connecting" | "open" | "reconnecting" | "closed",
  timeout = WAIT_MS,
): Promise<void> {
  return waitUntil(
    page,
    `data-connection="${phase}"`,
    (want) => document.documentElement.dataset["connection"] === want,
    phase,
    timeout,
  );
}

/** Waits for a system notice (joined, left, renamed, error) with `text`. */
export function waitForNotice(
  page: Page,
  text: string,
  timeout = WAIT_MS,
): Promise<void> {
  return waitUntil(
    page,
    `the notice "${text}"`,
    (want) =>
      Array.from(document.querySelectorAll("#messages .system .text"))
        .some((node) => node.textContent === want),
    text,
    timeout,
  );
}

/** Waits until a chat message with exactly `text` has a seq (is delivered). */
export function waitForMessage(
  page: Page,
  text: string,
  timeout = WAIT_MS,
): Promise<void> {
  return waitUntil(
    page,
    `the delivered message "${text.slice(0, 60)}"`,
    (want) =>
      Array.from(document.querySelectorAll("#messages .msg[data-seq]"))
        .some((node) => node.querySelector(".text")?.textContent === want),
    text,
    timeout,
  );
}

/** Types into the composer and presses Enter, as a user would. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator("#composer-input");
  await input.fill(text);
  await input.press("Enter");
}

/** The page's own name, from the member list. */
export async function ownName(page: Page): Promise<string> {
  const name = page.locator("#member-list .member.self .member-name");
  return (await name.textContent({ timeout: WAIT_MS })) ?? "";
}

/** Renames through the top-bar button and dialog, and waits for the result. */
export async function rename(page: Page, name: string): Promise<void> {
  await page.locator("#rename-button").click();
  await page.locator("#rename-input").fill(name);
  await page.locator("#rename-submit").click();
  await waitUntil(
    page,
    `the rename to "${name}"`,
    (want) =>
      !(document.getElementById("rename-dialog") as HTMLDialogElement).open &&
      document.querySelector("#member-list .member.self .member-name")
          ?.textContent === want,
    name,
  );
}

export interface ShownMessage {
  seq: string | undefined;
  own: boolean;
  pending: boolean;
  failed: boolean;
  author: string;
  text: string;
}

/** The chat messages as the page shows them, top to bottom. */
export function shownMessages(page: Page): Promise<ShownMessage[]> {
  return page.locator("#messages .msg").evaluateAll((nodes) =>
    nodes.map((node) => ({
      seq: (node as HTMLElement).dataset["seq"],
      own: node.classList.contains("own"),
      pending: node.classList.contains("pending"),
      failed: node.classList.contains("failed"),
      author: node.querySelector(".author")?.textContent ?? "",
      text: node.querySelector(".text")?.textContent ?? "",
    }))
  );
}

/** The system notices' texts, top to bottom. */
export function shownNotices(page: Page): Promise<string[]> {
  return page.locator("#messages .system .text").allTextContents();
}

