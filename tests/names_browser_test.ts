/**
 * A name that stays yours: the page remembers the chosen name and claims it
 * again in a new tab once the old session is gone; if someone else holds it
 * by then, the page says so and keeps the temporary name.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  ownName,
  rename,
  snapshot,
  waitFor,
} from "./browser.ts";
import { startServer } from "./helpers.ts";

browserTest(
  "a chosen name comes back in a new tab after the resume window, and a taken one is reported, not lost",
  async (t) => {
    // Sessions end quickly here, so "after the resume window" is a second.
    const server = startServer({ resumeWindowMs: 800, leaveGraceMs: 300 });
    const sweeper = setInterval(() => server.hub.sweep(), 100);
    t.defer(() => server.close());
    t.defer(() => clearInterval(sweeper));
    const url = `${server.url}/r/names`;

    const first = await t.openChat(url, ENGLISH);
    await rename(first, "Ana Rosa");
    await first.close();
    await new Promise((resolve) => setTimeout(resolve, 1500));

    // A new tab of the same browser: its own session, the same name.
    const again = await first.context().newPage();
    await gotoChat(again, url);
    await waitFor(again, "the remembered name", (s) => s.you === "Ana Rosa");

    // Another browser that remembers the same name finds it taken.
    const other = await t.newPage(ENGLISH);
    await other.addInitScript(() =>
      localStorage.setItem("chat:name", "Ana Rosa")
    );
    await gotoChat(other, url);
    const shown = await waitFor(
      other,
      "the notice that the name is taken",
      (s) => s.notices.some((n) => n.includes("already uses “Ana Rosa”")),
    );
    const kept = await ownName(other);
    assert.notEqual(kept, "Ana Rosa");
    assert.ok(
      shown.notices.some((n) => n.includes(`you are ${kept} for now`)),
      shown.notices.join("\n"),
    );
    assert.equal(
      (await snapshot(again)).you,
      "Ana Rosa",
      "the holder keeps it",
    );
  },
);
