/** The HTTP handler, called directly with `Request`s: no socket needed. */

import assert from "node:assert/strict";
import { Hub } from "../server/chat/hub.ts";
import { LocalFanout } from "../server/fanout/fanout.ts";
import { createHandler, roomFromPath } from "../server/http.ts";
import { MemoryStore } from "../server/store/memory_store.ts";

function handler() {
  const hub = new Hub({ store: new MemoryStore(), fanout: new LocalFanout() });
  return createHandler({ hub });
}

Deno.test("the page is served at / and /r/{room} with security headers", async () => {
  const handle = handler();
  for (const path of ["/", "/r/clase", "/r/Clase-2/"]) {
    const response = handle(new Request(`http://localhost:8765${path}`));
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const csp = response.headers.get("content-security-policy") ?? "";
    assert.match(csp, /default-src 'self'/);
    assert.match(
      csp,
      /connect-src 'self' ws:\/\/localhost:8765 wss:\/\/localhost:8765/,
    );
    assert.match(csp, /frame-ancestors 'none'/);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff");
    assert.match(await response.text(), /<html/i);
  }
});

Deno.test("the bundled client assets are embedded and served", async () => {
  const handle = handler();
  const js = handle(new Request("http://localhost/app.js"));
  assert.equal(js.status, 200);
  assert.match(js.headers.get("content-type") ?? "", /javascript/);
  assert.ok((await js.text()).length > 1000);
  const css = handle(new Request("http://localhost/style.css"));
  assert.equal(css.status, 200);
  const etag = css.headers.get("etag") ?? "";
  await css.body?.cancel();
  const cached = handle(
    new Request("http://localhost/style.css", {
      headers: { "if-none-match": etag },
    }),
  );
  assert.equal(cached.status, 304);
});

Deno.test("/healthz answers 200 with a small JSON status", async () => {
  const response = handler()(new Request("http://localhost/healthz"));
  assert.equal(response.status, 200);
  const body = await response.json();
  assert.equal(body.status, "ok");
  assert.equal(typeof body.connections, "number");
});

Deno.test("a plain GET to /ws explains itself with 426 instead of failing", async () => {
  const response = handler()(new Request("http://localhost/ws"));
  assert.equal(response.status, 426);
  assert.match(await response.text(), /WebSocket/);
});

Deno.test("unknown paths and invalid room names are 404, other methods 405", async () => {
  const handle = handler();
  for (const path of ["/nope", "/r/", "/r/a%20b", "/r/x/y"]) {
    const response = handle(new Request(`http://localhost${path}`));
    assert.equal(response.status, 404, path);
    await response.body?.cancel();
  }
  const post = handle(new Request("http://localhost/", { method: "POST" }));
  assert.equal(post.status, 405);
  await post.body?.cancel();
});

Deno.test("room names come from /r/{room}, lower-cased", () => {
  assert.equal(roomFromPath("/"), "main");
  assert.equal(roomFromPath("/r/Clase"), "clase");
  assert.equal(roomFromPath("/r/caf%C3%A9"), "café");
  assert.equal(roomFromPath("/r/%E0%A4%A"), null);
});
