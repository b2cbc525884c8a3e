/**
 * Links in the page: addresses become safe links, everything else stays
 * text, a disguised host shows in punycode.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  send,
  snapshot,
  waitForMessage,
} from "./browser.ts";
import { startServer } from "./helpers.ts";

browserTest(
  "addresses in messages are links that open safely; other schemes and HTML stay text",
  async (t) => {
    const server = startServer({
      sendRate: { capacity: 100, refillPerSecond: 100 },
    });
    t.defer(() => server.close());
    const url = `${server.url}/r/links`;
    const ana = await t.openChat(url, ENGLISH);
    const bea = await t.openChat(url, ENGLISH);
    const corpus = [
      "mira https://example.org/a?b=1&c=2 ya",
      "www.example.org",
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      'https://example.org/"><img src=x onerror=alert(1)>',
      "https://pаypal.com/login",
    ];
    for (const text of corpus) await send(ana, text);
    await waitForMessage(
      bea,
      corpus.at(-1)!.replace("pаypal.com", "xn--pypal-4ve.com"),
    )
      .catch(() => {});
    const links = await bea.locator(".msg .text a").evaluateAll((nodes) =>
      nodes.map((a) => ({
        text: a.textContent,
        href: a.getAttribute("href") ?? "",
        target: a.getAttribute("target"),
        rel: a.getAttribute("rel"),
      }))
    );
    for (const link of links) {
      assert.match(link.href, /^https?:\/\//, link.href);
      assert.equal(link.target, "_blank");
      assert.equal(link.rel, "noopener noreferrer nofollow");
    }
    assert.deepEqual(links.map((l) => l.text), [
      "https://example.org/a?b=1&c=2",
      "www.example.org",
      "https://example.org/", // the quote ends the address
      "https://xn--pypal-4ve.com/login",
    ]);
    const shown = await snapshot(bea);
    assert.equal(shown.injected, 0, "no element made from message text");
    const texts = shown.messages.map((m) => m.text);
    assert.ok(texts.includes("javascript:alert(1)"));
    assert.ok(texts.includes("data:text/html,<script>alert(1)</script>"));
    assert.ok(texts.includes("mira https://example.org/a?b=1&c=2 ya"));
    assert.ok(
      texts.includes('https://example.org/"><img src=x onerror=alert(1)>'),
      "shown exactly as typed",
    );
  },
);
