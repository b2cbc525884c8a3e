/**
 * Reading a conversation: day separators in the reader's language across a
 * date change, one author's consecutive messages grouped, "sent" only where
 * it matters. Both clocks are injected: the server's (message times) and
 * the page's (what "today" is).
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  send,
  SPANISH,
  waitForMessage,
} from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";

const at = (text: string) => new Date(text).getTime();

browserTest(
  "day separators say Yesterday and Today across midnight, and group one author's messages",
  async (t) => {
    let clock = at("2026-12-02T23:58:00");
    const server = startServer({ now: () => clock });
    t.defer(() => server.close());
    const { client: luis } = await TestClient.join(server.wsUrl, {
      room: "days",
    });
    t.defer(() => luis.close());
    const say = async (id: string) => {
      luis.send({ type: "send", id, text: id });
      await luis.until(() => luis.all("ack").some((a) => a.id === id), id);
    };
    await say("late one");
    clock = at("2026-12-02T23:59:00");
    await say("late two");
    clock = at("2026-12-03T00:01:00");
    await say("early one");

    for (
      const [options, labels] of [[ENGLISH, ["Yesterday", "Today"]], [SPANISH, [
        "Ayer",
        "Hoy",
      ]]] as const
    ) {
      const page = await t.newPage(options);
      await page.clock.setFixedTime(new Date("2026-12-03T10:00:00"));
      await gotoChat(page, `${server.url}/r/days`);
      await waitForMessage(page, "early one");
      const separators = await page.locator(".day-separator").allTextContents();
      assert.deepEqual(separators, labels);
      const rows = await page.locator("#messages > div").evaluateAll((nodes) =>
        nodes.map((node) => ({
          text: node.querySelector(".text")?.textContent ?? node.textContent,
          continued: node.classList.contains("continued"),
        }))
      );
      assert.deepEqual(
        rows.filter((r) => r.text?.match(/late|early/)),
        [
          { text: "late one", continued: false },
          { text: "late two", continued: true },
          { text: "early one", continued: false },
        ],
      );
      // Own messages: "sent" shows on the newest only.
      clock = at("2026-12-03T10:00:00");
      if (options === ENGLISH) {
        await send(page, "mine one");
        await send(page, "mine two");
        await waitForMessage(page, "mine two");
        await page.locator(".msg.last-own .delivery.sent").waitFor();
        const visibleSent = await page.locator(".msg.own .delivery.sent")
          .evaluateAll((nodes) =>
            nodes.filter((n) => n.getClientRects().length > 0).length
          );
        assert.equal(visibleSent, 1);
      }
    }
  },
);
