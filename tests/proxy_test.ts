/**
 * Behind a reverse proxy that rewrites Host (nginx's default): the page's
 * WebSocket must still be accepted when the operator says how the browser
 * reached the chat (--trust-proxy with X-Forwarded-Host, or --public-url),
 * and a foreign page must still be refused.
 */

import assert from "node:assert/strict";
import type { HandlerOptions } from "../server/http.ts";
import { startServer } from "./helpers.ts";
import { RawWebSocket } from "./raw_ws.ts";

const PAGE = "https://chat.example.org";

/** Upgrade status for a request as a Host-rewriting proxy would relay it. */
async function relayed(
  options: Omit<HandlerOptions, "hub">,
  headers: Record<string, string>,
): Promise<number> {
  const server = startServer({}, options);
  try {
    const raw = await RawWebSocket.open(server.port, {
      headers: { Host: `127.0.0.1:${server.port}`, ...headers },
    });
    await raw.destroy();
    return raw.status;
  } finally {
    await server.close();
  }
}

Deno.test("a proxy that rewrites Host: refused by default, as before", async () => {
  assert.equal(
    await relayed({}, {
      Origin: PAGE,
      "X-Forwarded-Host": "chat.example.org",
      "X-Forwarded-Proto": "https",
    }),
    403,
  );
});

Deno.test("--trust-proxy takes the browser's host from X-Forwarded-Host", async () => {
  const proxied = {
    Origin: PAGE,
    "X-Forwarded-Host": "chat.example.org",
    "X-Forwarded-Proto": "https",
  };
  assert.equal(await relayed({ trustProxy: true }, proxied), 101);
  // Another site's page is still another origin.
  assert.equal(
    await relayed({ trustProxy: true }, {
      ...proxied,
      Origin: "https://evil.example",
    }),
    403,
  );
  // A forwarded host that is not a host name is ignored.
  assert.equal(
    await relayed({ trustProxy: true }, {
      ...proxied,
      "X-Forwarded-Host": "chat.example.org; script-src *",
    }),
    403,
  );
});

Deno.test("--public-url lets pages from that address connect, and no other", async () => {
  const options = { publicUrl: `${PAGE}/` };
  assert.equal(await relayed(options, { Origin: PAGE }), 101);
  assert.equal(
    await relayed(options, { Origin: "https://chat.example.org.evil.example" }),
    403,
  );
});

Deno.test("behind a trusted proxy the page's CSP names the forwarded host", async () => {
  const server = startServer({}, { trustProxy: true });
  try {
    const response = await fetch(`${server.url}/`, {
      headers: { "x-forwarded-host": "chat.example.org" },
    });
    await response.body?.cancel();
    assert.match(
      response.headers.get("content-security-policy") ?? "",
      /connect-src 'self' ws:\/\/chat\.example\.org wss:\/\/chat\.example\.org/,
    );
  } finally {
    await server.close();
  }
});
