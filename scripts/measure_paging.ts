/**
 * Measures scrolling back through a long room in a real Chromium: a room of
 * 10,000 messages, the page scrolled to the top page after page until the
 * "start of the room" marker, with the time it took, the `older` pages
 * asked for, the DOM rows and the page's JS heap at the end. Prints one
 * JSON line; for the closing notes and the README, not a test.
 *
 *   deno task build && deno run -A scripts/measure_paging.ts [messages]
 */

import { ENGLISH, gotoChat, launchChromium } from "../tests/browser.ts";
import { startServer } from "../tests/helpers.ts";

const count = Number(Deno.args[0] ?? 10_000);
const server = startServer();
const browser = await launchChromium();
try {
  const log = server.store.openRoom("long");
  for (let n = 1; n <= count; n++) {
    await log.append({
      time: Date.now() - (count - n) * 60_000,
      from: { id: `u${n % 7}`, name: `Person ${n % 7}` },
      clientId: `c${n}`,
      text: `Message ${n}: ${"some words ".repeat(1 + (n % 5))}`,
    });
  }
  const context = await browser.newContext({
    ...ENGLISH,
    viewport: { width: 1280, height: 800 },
  });
  const page = await context.newPage();
  await gotoChat(page, `${server.url}/r/long`);
  const client = await context.newCDPSession(page);
  await client.send("Performance.enable");
  const heap = async () => {
    await client.send("HeapProfiler.collectGarbage");
    const { metrics } = await client.send("Performance.getMetrics");
    const used = metrics.find((m) => m.name === "JSHeapUsedSize")?.value ?? 0;
    return Math.round(used / 1e5) / 10;
  };
  const heapAtStart = await heap();
  let pages = 0;
  page.on("websocket", () => {});
  const started = performance.now();
  const deadline = started + 300_000;
  while (performance.now() < deadline) {
    const done = await page.locator(".history-start").count();
    if (done > 0) break;
    await page.locator("#messages").evaluate((list) => {
      list.scrollTop = 0;
      list.dispatchEvent(new Event("scroll"));
    });
    pages++;
    await page.waitForTimeout(40);
  }
  const elapsedMs = Math.round(performance.now() - started);
  const rows = await page.locator("#messages .msg").count();
  const first = await page.locator("#messages .msg .text").first()
    .textContent();
  console.log(JSON.stringify({
    messages: count,
    scrolls: pages,
    elapsedMs,
    rows,
    firstShown: first?.slice(0, 20),
    heapMbAtStart: heapAtStart,
    heapMbAtEnd: await heap(),
  }));
} finally {
  await browser.close();
  await server.close();
}
