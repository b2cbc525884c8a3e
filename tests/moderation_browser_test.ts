/**
 * Edits, deletions and moderation in the page, in Chromium: the author
 * edits and deletes from the message's actions, the moderator link makes a
 * moderator (kept in the browser, taken out of the address bar), who
 * removes a message, mutes, exports and removes a member.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  type Page,
  send,
  waitFor,
  waitForConnection,
  waitForMessage,
} from "./browser.ts";
import { startServer } from "./helpers.ts";
import { FixedModeratorKey } from "../server/moderator_key.ts";

const KEY = "browser-test-moderator-key-0123456789";

/** The actions of the message reading `text`, shown as a pointer would. */
async function act(page: Page, text: string, action: string): Promise<void> {
  const row = page.locator(".msg", { hasText: text }).last();
  await row.hover();
  await row.locator(`.msg-${action}`).click();
}

browserTest(
  "authors edit and delete their messages; a moderator link makes a moderator who removes, mutes, exports and removes a member",
  async (t) => {
    const server = startServer({
      moderatorKeys: new FixedModeratorKey(KEY),
    });
    t.defer(() => server.close());
    const url = `${server.url}/r/civil`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);

    // Ana fixes a typo: Edit puts the text back in the composer.
    await send(ana, "helo wrold");
    await waitForMessage(bea, "helo wrold");
    await act(ana, "helo wrold", "edit");
    const input = ana.locator("#composer-input");
    assert.equal(await input.inputValue(), "helo wrold");
    assert.equal(await ana.locator("#editing-bar").isVisible(), true);
    await input.fill("hello world");
    await input.press("Enter");
    await waitForMessage(bea, "hello world");
    const edited = bea.locator(".msg", { hasText: "hello world" });
    assert.equal(await edited.locator(".edited").textContent(), "(edited)");
    assert.equal(await ana.locator("#editing-bar").isVisible(), false);
    // Bea sees no actions on Ana's message: she is not a moderator.
    await edited.hover();
    assert.equal(await edited.locator(".msg-actions").count(), 0);

    // Ana deletes another message of hers, after confirming.
    await send(ana, "oops, wrong room");
    await waitForMessage(bea, "oops, wrong room");
    ana.once("dialog", (dialog) => void dialog.accept());
    await act(ana, "oops, wrong room", "delete");
    await waitForMessage(bea, "Message deleted");

    // The moderator link.
    const mod = await t.newPage(ENGLISH);
    await mod.goto(`${url}#mod=${KEY}`);
    await waitForConnection(mod, "open");
    assert.equal(new URL(mod.url()).hash, "", "the key left the address bar");
    await mod.locator("#moderator-badge").waitFor({ state: "visible" });

    await send(bea, "buy cheap stuff at spam.example");
    await waitForMessage(mod, "buy cheap stuff at spam.example");
    mod.once("dialog", (dialog) => void dialog.accept());
    await act(mod, "buy cheap stuff", "delete");
    await waitForMessage(ana, "Message removed by a moderator");
    await waitForMessage(bea, "Message removed by a moderator");

    // Mute Bea from one of her messages: her next one is refused, saying
    // why; everyone is told.
    await send(bea, "sorry");
    await waitForMessage(mod, "sorry");
    await act(mod, "sorry", "mute");
    await send(bea, "can I still talk?");
    await waitFor(
      bea,
      "the refused message",
      (s) =>
        s.messages.some((m) =>
          m.failed && m.text.startsWith("can I still talk?")
        ),
    );
    assert.match(
      (await bea.locator(".msg.failed .reason").textContent()) ?? "",
      /moderator muted you/,
    );
    await waitFor(
      ana,
      "the mute notice",
      (s) => s.notices.some((n) => /muted .* for 10 min/.test(n)),
    );

    // The moderator lifts the mute from its notice; Bea writes again.
    await mod.locator(".system.moderation .notice-lift").first().click();
    await waitFor(
      bea,
      "the unmute notice",
      (shown) => shown.notices.some((n) => /unmuted/.test(n)),
    );
    await send(bea, "thank you");
    await waitForMessage(ana, "thank you");

    // Export as JSON from the moderator's menu.
    await mod.locator("#moderator-menu summary").click();
    const [download] = await Promise.all([
      mod.waitForEvent("download"),
      mod.locator("#export-json").click(),
    ]);
    const path = await download.path();
    const transcript = JSON.parse(Deno.readTextFileSync(path));
    assert.equal(transcript.room, "civil");
    const texts = transcript.messages.map((m: { text: string }) => m.text);
    assert.ok(texts.includes("hello world"), JSON.stringify(texts));
    assert.equal(texts.includes("buy cheap stuff at spam.example"), false);

    // Kept in the browser: a reload without the fragment is still a moderator.
    await mod.reload();
    await waitForConnection(mod, "open");
    await mod.locator("#moderator-badge").waitFor({ state: "visible" });

    // Remove Ana for 10 minutes: her page says so and stops reconnecting.
    await act(mod, "hello world", "kick");
    await waitFor(
      ana,
      "the removal",
      (s) => s.status === "A moderator removed you from this room.",
    );
    await waitFor(
      mod,
      "the removal notice",
      (shown) =>
        shown.notices.some((n) =>
          /removed .* from the room for 10 min/.test(n)
        ),
    );

    // Clear the history: Bea's page empties, says so, and reconnects into
    // the new history without a "missing messages" line.
    await mod.locator("#moderator-menu summary").click();
    mod.once("dialog", (dialog) => void dialog.accept());
    await mod.locator("#clear-room").click();
    await waitFor(
      bea,
      "the cleared history",
      (shown) =>
        shown.connection === "open" &&
        !shown.messages.some((m) => m.seq !== undefined) &&
        shown.notices.some((n) => /cleared the room's history/.test(n)) &&
        !shown.notices.some((n) => /missing/.test(n)),
      10_000,
    );
  },
);
