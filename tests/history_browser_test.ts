/**
 * The whole history, readable: scrolling to the top loads older messages
 * page by page, without the view jumping, down to the start of the room.
 */

import assert from "node:assert/strict";
import { browserTest, ENGLISH, waitFor } from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";

browserTest(
  "scrolling back pages through 1,000 messages to the start marker, without a jump",
  async (t) => {
    const server = startServer({
      sendRate: { capacity: 2_000, refillPerSecond: 2_000 },
    });
    t.defer(() => server.close());
    const { client } = await TestClient.join(server.wsUrl, { room: "long" });
    t.defer(() => client.close());
    for (let i = 1; i <= 1_000; i++) {
      client.send({ type: "send", id: `m${i}`, text: `message ${i}` });
    }
    await client.until(() => client.all("ack").length === 1_000, "all stored");

    const page = await t.openChat(`${server.url}/r/long`, ENGLISH);
    await waitFor(
      page,
      "the last message",
      (s) => s.messages.at(-1)?.text === "message 1000",
    );
    const list = page.locator("#messages");
    for (let round = 0; round < 40; round++) {
      if (await page.locator(".history-start").count() > 0) break;
      const count = await page.locator(".msg").count();
      // The oldest message shown; scrolling to the top brings it into view,
      // and the page loaded above it must leave it there.
      const text = await page.locator(".msg .text").first().textContent();
      await list.evaluate((node) => node.scrollTop = 0);
      for (let wait = 0; wait < 100; wait++) {
        const more = await page.locator(".msg").count() > count;
        if (more || await page.locator(".history-start").count() > 0) break;
        await page.waitForTimeout(50);
      }
      await page.waitForTimeout(50);
      const listTop = (await list.boundingBox())!.y;
      const same = page.locator(".msg .text", {
        hasText: new RegExp(`^${text}$`),
      });
      const y = (await same.boundingBox())!.y;
      assert.ok(
        y - listTop > -5 && y - listTop < 120,
        `"${text}" stayed at the top of the list: ${y - listTop} px from it`,
      );
    }
    const shown = await page.locator(".msg .text").allTextContents();
    assert.equal(shown.length, 1_000);
    assert.deepEqual(
      shown,
      Array.from({ length: 1_000 }, (_, i) => `message ${i + 1}`),
    );
    assert.equal(
      await page.locator(".history-start").textContent(),
      "This is the start of the room.",
    );
  },
);
