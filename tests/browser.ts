/**
 * Browser test helpers: Debian's Chromium driven by playwright-core (never a
 * downloaded browser), a test wrapper that adds every open page's text to
 * the error when a test fails, and one typed snapshot of what the page
 * shows, which tests assert on and wait on.
 */

// Pinned here, not in deno.json's imports: an entry there would make even
// `deno task start` download this test-only package.
// deno-lint-ignore no-import-prefix
import * as playwright from "npm:playwright-core@1.65.1";

const { chromium } = playwright;
type Browser = playwright.Browser;
type BrowserContextOptions = playwright.BrowserContextOptions;
export type Page = playwright.Page;
type Response = playwright.Response;

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
const POLL_MS = 25;

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
  /**
   * Runs `cleanup` when the test ends, last registered first, after a
   * failure's page text is taken (so it shows the page before the server
   * went away) and before the browser closes.
   */
  defer(cleanup: () => unknown): void;
}

/**
 * Registers a Deno test that gets its own Chromium, closed in `finally`.
 * When the test fails, the text of every page still open is added to the
 * error, so a failure shows what the user would have seen.
 */
export function browserTest(
  name: string,
  fn: (t: BrowserTest) => Promise<void>,
  /** `ignore`: something else it needs is missing (say so when deciding). */
  options: { ignore?: boolean } = {},
): void {
  Deno.test({
    name,
    ignore: !CHROMIUM_FOUND || (options.ignore ?? false),
    // Playwright keeps pipe reads and timers of its own in flight between
    // calls; they end with the browser, not always within the test's tick.
    sanitizeOps: false,
    sanitizeResources: false,
    async fn() {
      const browser = await launchChromium();
      const pages: Page[] = [];
      const cleanups: (() => unknown)[] = [];
      let failure: unknown;
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
          defer(cleanup) {
            cleanups.push(cleanup);
          },
        });
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        failure = new Error(message + await dumpPages(pages), { cause: error });
      } finally {
        for (const cleanup of cleanups.reverse()) {
          try {
            await cleanup();
          } catch (error) {
            failure ??= error;
          }
        }
        await browser.close();
      }
      if (failure !== undefined) throw failure;
    },
  });
}

/** `document.body.innerText` of every page still open. */
async function dumpPages(pages: readonly Page[]): Promise<string> {
  let dump = "";
  for (const [index, page] of pages.entries()) {
    if (page.isClosed()) continue;
    const text = await Promise.race([
      page.evaluate("document.body.innerText").then(String, (e) => `(${e})`),
      new Promise<string>((r) => setTimeout(() => r("(no answer)"), 2000)),
    ]);
    dump += `\n\n--- page ${index + 1}: ${page.url()} ---\n${text}`;
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

export interface ShownMessage {
  seq: string | undefined;
  own: boolean;
  pending: boolean;
  failed: boolean;
  author: string;
  text: string;
}

/** What the page shows, read in one go. */
export interface Snapshot {
  /** `<html data-connection>`. */
  connection: string | undefined;
  /** `#connection[data-phase]`. */
  phase: string | undefined;
  status: string;
  retryVisible: boolean;
  lang: string;
  onlineCount: string;
  /** Own name, from the member list. */
  you: string;
  members: string[];
  typing: string;
  messages: ShownMessage[];
  /** Texts of every `.system` row: notices, errors, gap markers. */
  notices: string[];
  gapMarkers: number;
  dialogOpen: boolean;
  /** `#rename-error` text, or null while it is hidden. */
  renameError: string | null;
  /** The focused element's id. */
  focused: string;
  labels: {
    rename: string;
    send: string;
    placeholder: string;
    menu: string;
  };
  /** img, script or svg elements where only text belongs. */
  injected: number;
  /** Filled by `recordCspViolations`. */
  cspViolations: string[];
  scrollWidth: number;
  innerWidth: number;
  /** `.text` nodes wider than their box or the list: the start of each. */
  overflowingTexts: string[];
}

/**
 * The little of the DOM that `readPage` touches. Typed here by hand because
 * the tests are checked against Deno's libraries, and adding the DOM's to
 * the same program clashes with them.
 */
interface DomElement {
  readonly id: string;
  readonly textContent: string | null;
  readonly hidden: boolean;
  readonly open?: boolean;
  readonly value?: string;
  readonly lang: string;
  readonly dataset: Record<string, string | undefined>;
  readonly classList: { contains(token: string): boolean };
  readonly scrollWidth: number;
  readonly clientWidth: number;
  getAttribute(name: string): string | null;
  getBoundingClientRect(): { readonly right: number };
  querySelector(selectors: string): DomElement | null;
  checkVisibility(): boolean;
}

interface DomGlobals {
  readonly innerWidth: number;
  readonly cspViolations?: string[];
  readonly document: {
    readonly documentElement: DomElement;
    readonly activeElement: DomElement | null;
    getElementById(id: string): DomElement | null;
    querySelectorAll(selectors: string): ArrayLike<DomElement>;
  };
}

/** Runs in the page: serialised by Playwright, so it uses nothing outside. */
function readPage(): Snapshot {
  const { document, innerWidth, cspViolations } =
    globalThis as unknown as DomGlobals;
  const byId = (id: string) => document.getElementById(id);
  const text = (node: DomElement | null | undefined) => node?.textContent ?? "";
  const all = (selectors: string) =>
    Array.from(document.querySelectorAll(selectors));
  const root = document.documentElement;
  const retry = byId("retry-button");
  const renameError = byId("rename-error");
  const list = byId("messages")?.getBoundingClientRect();
  return {
    connection: root.dataset["connection"],
    phase: byId("connection")?.dataset["phase"],
    status: text(byId("status")),
    retryVisible: retry !== null && !retry.hidden && retry.checkVisibility(),
    lang: root.lang,
    onlineCount: text(byId("online-count")),
    you: text(
      document.getElementById("member-list")?.querySelector(
        ".member.self .member-name",
      ),
    ),
    members: all("#member-list .member-name").map(text),
    typing: text(byId("typing")),
    messages: all("#messages .msg").map((node) => ({
      seq: node.dataset["seq"],
      own: node.classList.contains("own"),
      pending: node.classList.contains("pending"),
      failed: node.classList.contains("failed"),
      author: text(node.querySelector(".author")),
      text: text(node.querySelector(".text")),
    })),
    notices: all("#messages .system").map(text),
    gapMarkers: all("#messages .gap-marker").length,
    dialogOpen: byId("rename-dialog")?.open === true,
    renameError: renameError === null || renameError.hidden
      ? null
      : text(renameError),
    focused: document.activeElement?.id ?? "",
    labels: {
      rename: text(byId("rename-button")),
      send: text(byId("send-button")),
      placeholder: byId("composer-input")?.getAttribute("placeholder") ?? "",
      menu: byId("lang-select")?.value ?? "",
    },
    injected: all(
      ["#messages", "#member-list", "#rename-error", "#status", "#typing"]
        .flatMap((box) => [`${box} img`, `${box} script`, `${box} svg`])
        .join(", "),
    ).length,
    cspViolations: cspViolations ?? [],
    scrollWidth: root.scrollWidth,
    innerWidth,
    overflowingTexts: all("#messages .text").filter((node) =>
      node.scrollWidth > node.clientWidth + 1 ||
      (list !== undefined &&
        node.getBoundingClientRect().right > list.right + 1)
    ).map((node) => text(node).slice(0, 40)),
  };
}

export function snapshot(page: Page): Promise<Snapshot> {
  return page.evaluate(readPage);
}

/**
 * Polls the page until `check` passes and returns that snapshot; on timeout
 * the error names `what` (and `browserTest` adds the page text).
 */
export async function waitFor(
  page: Page,
  what: string,
  check: (shown: Snapshot) => boolean,
  timeout = WAIT_MS,
): Promise<Snapshot> {
  const deadline = Date.now() + timeout;
  while (true) {
    const shown = await snapshot(page);
    if (check(shown)) return shown;
    if (Date.now() >= deadline) {
      throw new Error(`Timed out after ${timeout} ms waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

export function waitForConnection(
  page: Page,
  phase: "connecting" | "open" | "reconnecting" | "closed",
  timeout = WAIT_MS,
): Promise<Snapshot> {
  return waitFor(
    page,
    `data-connection="${phase}"`,
    (shown) => shown.connection === phase,
    timeout,
  );
}

/** Waits for a system row (joined, left, renamed, error) reading `text`. */
export function waitForNotice(
  page: Page,
  text: string,
  timeout = WAIT_MS,
): Promise<Snapshot> {
  return waitFor(
    page,
    `the notice "${text}"`,
    (shown) => shown.notices.includes(text),
    timeout,
  );
}

/** Waits until a chat message reading exactly `text` has a seq. */
export function waitForMessage(
  page: Page,
  text: string,
  timeout = WAIT_MS,
): Promise<Snapshot> {
  return waitFor(
    page,
    `the delivered message "${text.slice(0, 60)}"`,
    (shown) =>
      shown.messages.some((m) => m.text === text && m.seq !== undefined),
    timeout,
  );
}

/** Records `securitypolicyviolation` events into `cspViolations`. */
export async function recordCspViolations(page: Page): Promise<void> {
  await page.addInitScript({
    content: `{
      const seen = [];
      Object.defineProperty(globalThis, "cspViolations", { value: seen });
      document.addEventListener("securitypolicyviolation", (event) => {
        seen.push(event.violatedDirective + " blocked " + event.blockedURI);
      });
    }`,
  });
}

/** The page's tab hidden or shown, as the browser would report it. */
export function setHidden(page: Page, hidden: boolean): Promise<void> {
  return page.locator("html").evaluate((root, hide) => {
    const doc = root.ownerDocument;
    Object.defineProperty(doc, "visibilityState", {
      value: hide ? "hidden" : "visible",
      configurable: true,
    });
    Object.defineProperty(doc, "hidden", { value: hide, configurable: true });
    doc.dispatchEvent(new Event("visibilitychange"));
  }, hidden);
}

/** Types into the composer and presses Enter, as a user would. */
export async function send(page: Page, text: string): Promise<void> {
  const input = page.locator("#composer-input");
  await input.fill(text);
  await input.press("Enter");
}

/** The page's own name, from the member list. */
export async function ownName(page: Page): Promise<string> {
  return (await waitFor(page, "an own name", (s) => s.you !== "")).you;
}

/** Renames through the top-bar button and dialog, and waits for the result. */
export async function rename(page: Page, name: string): Promise<void> {
  await page.locator("#rename-button").click();
  await page.locator("#rename-input").fill(name);
  await page.locator("#rename-submit").click();
  await waitFor(
    page,
    `the rename to "${name}"`,
    (shown) => !shown.dialogOpen && shown.you === name,
  );
}
