/**
 * One person, several tabs of one browser (one browser context, so shared
 * localStorage), in Chromium: one member with one name, both tabs send and
 * receive, closing one leaves the other in the room, and a duplicated tab
 * (its sessionStorage copied) becomes a third tab instead of taking over.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  ownName,
  type Page,
  send,
  snapshot,
  WAIT_MS,
  waitFor,
  waitForMessage,
} from "./browser.ts";
import { startServer } from "./helpers.ts";

/** The messages the page shows as its own and delivered, by text. */
async function ownTexts(page: Page): Promise<string[]> {
  return (await snapshot(page)).messages.filter((m) => m.own && m.seq)
    .map((m) => m.text);
}

browserTest(
  "two tabs of one browser are one member: one name, both send and receive, closing one keeps the person here, a duplicate does not take over",
  async (t) => {
    const server = startServer({ leaveGraceMs: 300 });
    t.defer(() => server.close());
    const sweeper = setInterval(() => server.hub.sweep(), 100);
    t.defer(() => clearInterval(sweeper));
    const url = `${server.url}/r/tabs`;
    const browser = await t.browser.newContext(ENGLISH);
    browser.setDefaultTimeout(WAIT_MS);
    t.defer(() => browser.close());
    const tabA = await browser.newPage();
    await gotoChat(tabA, url);
    const tabB = await browser.newPage();
    await gotoChat(tabB, url);
    const bea = await t.openChat(url, ENGLISH);

    const name = await ownName(tabA);
    assert.equal(await ownName(tabB), name, "one name in both tabs");
    await waitFor(bea, "two people", (s) => s.onlineCount === "2 online");
    assert.equal((await snapshot(tabB)).onlineCount, "2 online");

    await send(tabA, "from tab A");
    await send(tabB, "from tab B");
    for (const tab of [tabA, tabB]) {
      await waitFor(
        tab,
        "both own messages",
        (s) =>
          ["from tab A", "from tab B"].every((text) =>
            s.messages.some((m) => m.own && m.seq && m.text === text)
          ),
      );
    }
    await send(bea, "hello you two");
    await waitForMessage(tabA, "hello you two");
    await waitForMessage(tabB, "hello you two");
    const shown = (await snapshot(bea)).messages.filter((m) =>
      m.author === name
    );
    assert.deepEqual(shown.map((m) => m.text), ["from tab A", "from tab B"]);
    assert.deepEqual(await ownTexts(tabA), ["from tab A", "from tab B"]);

    // A duplicated tab copies sessionStorage (its tab id too): it must
    // become one more tab, not take tab B's place.
    const copied = await tabB.evaluate("JSON.stringify({...sessionStorage})");
    const tabC = await browser.newPage();
    await tabC.addInitScript({
      content:
        `for (const [k, v] of Object.entries(${copied})) sessionStorage.setItem(k, v);`,
    });
    await gotoChat(tabC, url);
    assert.equal(await ownName(tabC), name);
    await send(tabC, "from the duplicate");
    await waitForMessage(tabB, "from the duplicate");
    const statusB = (await snapshot(tabB)).status;
    assert.equal(statusB, "Connected", "tab B was not taken over");

    // Closing two tabs: the person is still here (no leave after the grace
    // period), and the last tab still sends.
    await tabA.close();
    await tabC.close();
    await new Promise((resolve) => setTimeout(resolve, 800));
    const notices = (await snapshot(bea)).notices;
    assert.equal(
      notices.some((n) => n.includes(`${name} left`)),
      false,
      notices.join(" | "),
    );
    await send(tabB, "still here");
    await waitForMessage(bea, "still here");
    await tabB.close();
    await waitFor(
      bea,
      "the leave once the last tab closed",
      (s) => s.notices.some((n) => n.includes(`${name} left`)),
    );
  },
);
