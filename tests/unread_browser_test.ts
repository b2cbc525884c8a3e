/**
 * Not missing what came while you looked away: a "New messages" button
 * when scrolled up, a "New" line and a count in the title after the tab
 * was hidden.
 */

import assert from "node:assert/strict";
import { browserTest, ENGLISH, setHidden, waitForMessage } from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";

browserTest(
  "scrolled up, new messages show as a button with a count; a hidden tab gets a New line and a count in its title",
  async (t) => {
    const server = startServer({
      sendRate: { capacity: 500, refillPerSecond: 500 },
    });
    t.defer(() => server.close());
    const { client: luis } = await TestClient.join(server.wsUrl, {
      room: "unread",
    });
    t.defer(() => luis.close());
    const say = async (text: string) => {
      luis.send({ type: "send", id: text, text });
      await luis.until(() => luis.all("ack").some((a) => a.id === text), text);
    };
    for (let i = 1; i <= 60; i++) await say(`old ${i}`);
    const page = await t.openChat(`${server.url}/r/unread`, ENGLISH);
    await waitForMessage(page, "old 60");

    // Scrolled up a little, two messages arrive.
    await page.locator("#messages").evaluate((node) => node.scrollTop = 400);
    await page.waitForTimeout(100);
    await say("below 1");
    await say("below 2");
    const button = page.locator("#new-messages");
    await button.waitFor({ state: "visible" });
    assert.equal(await button.textContent(), "New messages ↓ 2");
    await button.click();
    await button.waitFor({ state: "hidden" });
    const atBottom = await page.locator("#messages").evaluate((node) =>
      node.scrollHeight - node.scrollTop - node.clientHeight < 10
    );
    assert.ok(atBottom, "the button takes the reader to the newest");

    // Away: the title counts, and coming back shows where "new" begins.
    await setHidden(page, true);
    await say("while away 1");
    await say("while away 2");
    await waitForMessage(page, "while away 2");
    assert.match(await page.title(), /^\(2\) #unread/);
    await setHidden(page, false);
    assert.doesNotMatch(await page.title(), /^\(/);
    const rows = await page.locator("#messages > div").allTextContents();
    const divider = rows.findIndex((r) => r === "New");
    assert.ok(divider >= 0, "a New line is shown");
    assert.match(rows[divider + 1] ?? "", /while away 1/);
  },
);
