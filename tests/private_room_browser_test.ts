/**
 * Private rooms: "New private room" makes an address nobody can guess; the
 * page marks it private; a second browser joins by the link.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  send,
  waitForMessage,
} from "./browser.ts";
import { startServer } from "./helpers.ts";

browserTest(
  "a new private room is created from the page, marked private, and joined by its link from another browser",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const ana = await t.openChat(`${server.url}/r/lobby`, ENGLISH);
    assert.equal(await ana.locator("#private-badge").isHidden(), true);
    await ana.locator("#new-private-room").click();
    await ana.waitForURL(/\/r\/p-[a-z2-7]{20}$/);
    const url = ana.url();
    await ana.locator("#private-badge").waitFor({ state: "visible" });
    assert.equal(
      await ana.locator("#private-badge").textContent(),
      "Private room",
    );

    const bea = await t.newPage(ENGLISH);
    await gotoChat(bea, url);
    await send(bea, "solo nosotros");
    await waitForMessage(ana, "solo nosotros");
    assert.equal(await bea.locator("#private-badge").isVisible(), true);
  },
);
