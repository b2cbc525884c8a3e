/**
 * Being called: "@" suggests members, and the named person sees the
 * message marked.
 */

import assert from "node:assert/strict";
import { browserTest, ENGLISH, ownName, waitForMessage } from "./browser.ts";
import { startServer } from "./helpers.ts";

browserTest(
  "typing @ suggests members; the mention is marked for everyone and the message stands out for the one named",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/mentions`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    const anaName = await ownName(ana);
    const input = bea.locator("#composer-input");
    await bea.locator("#member-list .member", { hasText: anaName })
      .waitFor();
    await input.pressSequentially(`hola @${anaName.slice(0, 2)}`);
    const list = bea.locator("#mention-suggestions");
    await list.waitFor({ state: "visible" });
    assert.ok(
      (await list.locator("li").allTextContents()).includes(anaName),
      "the member is suggested",
    );
    // Choose it with the keyboard (the first suggestion may be another
    // animal with the same first letters).
    const options = await list.locator("li").allTextContents();
    for (let i = 0; i < options.indexOf(anaName); i++) {
      await input.press("ArrowDown");
    }
    await input.press("Enter");
    assert.equal(await input.inputValue(), `hola @${anaName} `);
    assert.equal(await list.isHidden(), true);
    await input.pressSequentially("¿vienes?");
    await input.press("Enter");
    const text = `hola @${anaName} ¿vienes?`;
    await waitForMessage(ana, text);
    const onAna = ana.locator(".msg", { hasText: text });
    assert.match(await onAna.getAttribute("class") ?? "", /mentions-you/);
    assert.equal(await onAna.locator(".mention").textContent(), `@${anaName}`);
    const onBea = bea.locator(".msg", { hasText: text });
    assert.doesNotMatch(
      await onBea.getAttribute("class") ?? "",
      /mentions-you/,
    );
    assert.equal(await onBea.locator(".mention").textContent(), `@${anaName}`);
  },
);
