/**
 * Being called: "@" suggests members, and the named person sees the
 * message marked.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  gotoChat,
  ownName,
  setHidden,
  waitForMessage,
} from "./browser.ts";
import { startServer, TestClient } from "./helpers.ts";

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

browserTest(
  "mentioned while the tab is hidden: a notification (when allowed and switched on), a mark in the title and the icon",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    const url = `${server.url}/r/called`;
    const ana = await t.newPage({ ...ENGLISH, permissions: ["notifications"] });
    // Record notifications instead of showing them.
    await ana.addInitScript(() => {
      const scope = globalThis as unknown as {
        Notification: new (
          title: string,
          options?: { body?: string },
        ) => object;
        shown: string[];
      };
      scope.shown = [];
      const Real = scope.Notification;
      scope.Notification = class extends Real {
        constructor(title: string, options?: { body?: string }) {
          super(title, options);
          scope.shown.push(`${title} | ${options?.body}`);
        }
      } as typeof Real;
    });
    await gotoChat(ana, url);
    const anaName = await ownName(ana);
    await ana.locator("#alert-notify").check();
    await ana.locator("#alert-sound").uncheck();
    await setHidden(ana, true);

    const { client: bea } = await TestClient.join(server.wsUrl, {
      room: "called",
    });
    t.defer(() => bea.close());
    bea.send({ type: "send", id: "call", text: `@${anaName} ¿estás?` });
    await waitForMessage(ana, `@${anaName} ¿estás?`);
    const shown = await ana.evaluate(() =>
      (globalThis as unknown as { shown: string[] }).shown
    );
    assert.equal(shown.length, 1);
    assert.match(
      shown[0]!,
      new RegExp(`^#called \\| .+: @${anaName} ¿estás\\?$`),
    );
    assert.match(await ana.title(), /^@1 \(1\) #called/);
    const icon = await ana.locator('link[rel="icon"]').getAttribute("href");
    assert.match(decodeURIComponent(icon ?? ""), /<circle/);
    // Settings are kept per browser.
    assert.equal(
      await ana.evaluate(() => localStorage.getItem("chat:mention-notify")),
      "on",
    );
  },
);
