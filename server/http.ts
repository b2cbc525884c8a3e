/**
 * The HTTP edge: the page, its assets, /healthz, and WebSocket upgrades.
 * `createHandler` returns a plain `(Request) => Response` so tests can call it
 * without a socket.
 */

import { DEFAULT_ROOM, normalizeRoomName } from "../protocol/messages.ts";
import type { Hub } from "./chat/hub.ts";
import { ASSETS, ASSETS_HASH, INDEX_HTML } from "./generated/assets.ts";
import { upgradeToChat } from "./ws_edge.ts";

export interface HandlerOptions {
  hub: Hub;
  /** For /healthz. */
  startedAt?: number;
}

const WS_PATHS = new Set(["/", "/ws"]);

/** `host` is the request's own host, so the page may only connect back. */
function securityHeaders(host: string): Headers {
  return new Headers({
    "content-security-policy": [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "img-src 'self' data:",
      `connect-src 'self' ws://${host} wss://${host}`,
      "object-src 'none'",
      "base-uri 'none'",
      "form-action 'self'",
      "frame-ancestors 'none'",
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
  });
}

function isWebSocketUpgrade(request: Request): boolean {
  return request.headers.get("upgrade")?.toLowerCase() === "websocket";
}

/** `/r/{room}` → the room, `/` → the default room, anything else → null. */
export function roomFromPath(pathname: string): string | null {
  if (pathname === "/") return DEFAULT_ROOM;
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  if (!match?.[1]) return null;
  try {
    return normalizeRoomName(decodeURIComponent(match[1]));
  } catch {
    return null;
  }
}

export function createHandler(
  options: HandlerOptions,
): (request: Request) => Response {
  const startedAt = options.startedAt ?? Date.now();
  return (request) => {
    const url = new URL(request.url);
    if (isWebSocketUpgrade(request) && WS_PATHS.has(url.pathname)) {
      return upgradeToChat(request, options.hub);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    if (url.pathname === "/healthz") {
      return Response.json({
        status: "ok",
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        ...options.hub.stats(),
      }, { headers: { "cache-control": "no-store" } });
    }
    if (url.pathname === "/ws") {
      return new Response(
        "This is the chat's WebSocket endpoint. Open the page at / in a browser, or connect with a WebSocket client.\n",
        {
          status: 426,
          headers: { upgrade: "websocket", "content-type": "text/plain" },
        },
      );
    }
    const asset = ASSETS[url.pathname];
    if (asset) {
      const headers = securityHeaders(url.host);
      headers.set("content-type", asset.contentType);
      headers.set("cache-control", "no-cache");
      headers.set("etag", `"${ASSETS_HASH}"`);
      if (request.headers.get("if-none-match") === `"${ASSETS_HASH}"`) {
        return new Response(null, { status: 304, headers });
      }
      return new Response(asset.body, { headers });
    }
    if (roomFromPath(url.pathname) !== null) {
      const headers = securityHeaders(url.host);
      headers.set("content-type", "text/html; charset=utf-8");
      headers.set("cache-control", "no-cache");
      return new Response(INDEX_HTML, { headers });
    }
    return new Response("Not found\n", {
      status: 404,
      headers: { "content-type": "text/plain" },
    });
  };
}
