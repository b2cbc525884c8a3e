/**
 * A big room's member list in the page: the count at once, the names a
 * page at a time as the list is scrolled, everyone in the end.
 */

import assert from "node:assert/strict";
import { browserTest, ENGLISH, snapshot, waitFor } from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";

browserTest(
  "a big room shows its size at once and lists everyone as the member list is scrolled",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const present: TestClient[] = [];
    t.defer(() => Promise.all(present.map((c) => c.close())));
    for (let i = 0; i < 150; i++) {
      present.push(
        (await TestClient.join(server.wsUrl, { room: "big" })).client,
      );
    }
    const page = await t.openChat(`${server.url}/r/big`, ENGLISH);
    await waitFor(
      page,
      "the room's size",
      (s) => s.onlineCount === "151 online",
    );
    const first = await snapshot(page);
    assert.ok(
      first.members.length < 151,
      `the welcome lists a first page only (${first.members.length})`,
    );
    // Scrolling to the end of the list asks for the next page, until none.
    for (let i = 0; i < 20; i++) {
      const more = page.locator(".member-more");
      if (await more.count() === 0) break;
      await more.scrollIntoViewIfNeeded();
      await page.waitForTimeout(100);
    }
    const all = await waitFor(
      page,
      "everyone listed",
      (s) => s.members.length === 151,
    );
    assert.equal(new Set(all.members).size, 151, "nobody twice");
    assert.equal(all.onlineCount, "151 online");
    assert.equal(await page.locator(".member-more").count(), 0);
  },
);
