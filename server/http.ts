/**
 * The HTTP edge: the page, its assets, /healthz, and WebSocket upgrades with
 * their admission checks (origin, protocol version, connection caps).
 * `createHandler` returns a plain `(Request, info?) => Response` so tests can
 * call it without a socket.
 */

import {
  DEFAULT_ROOM,
  normalizeRoomName,
  ProtocolError,
} from "../protocol/messages.ts";
import {
  JSON_FOOTER,
  jsonHeader,
  jsonLine,
  textHeader,
  textLine,
} from "./chat/transcript.ts";
import type { Hub } from "./chat/hub.ts";
import { ConnectionLimits } from "./connection_limits.ts";
import { renderMetrics } from "./metrics.ts";
import type { StoreHealth } from "./store/store.ts";
import { ASSETS, ASSETS_HASH, INDEX_HTML_BY_LANG } from "./generated/assets.ts";
import { upgradeToChat } from "./ws_edge.ts";

export interface HandlerOptions {
  hub: Hub;
  /** For /healthz. */
  startedAt?: number;
  /** Origins allowed to open WebSockets besides the page's own. */
  allowedOrigins?: readonly string[];
  /**
   * Behind a reverse proxy: read the client address from X-Forwarded-For,
   * and the address the browser used from X-Forwarded-Host and
   * X-Forwarded-Proto (a proxy that rewrites Host would otherwise make every
   * page's WebSocket look cross-origin).
   */
  trustProxy?: boolean;
  /** The address people open (e.g. https://chat.example.org): its origin may connect. */
  publicUrl?: string;
  /** Open WebSockets allowed per client address. */
  maxConnectionsPerAddress?: number;
  /** Open WebSockets allowed in all. */
  maxConnections?: number;
  log?: (level: "warn" | "error", message: string) => void;
  /**
   * Addresses others can open (this machine's LAN addresses, or the public
   * URL), for the page's "share this room" panel: /share.json.
   */
  shareUrls?: () => string[];
  /** Whether the store can write; /healthz answers 503 when it cannot. */
  storeHealth?: () => StoreHealth;
  /**
   * Serve /metrics to every address, not only to this machine (loopback,
   * and not through a proxy).
   */
  exposeMetrics?: boolean;
}

export const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS = 20;
export const DEFAULT_MAX_CONNECTIONS = 10_000;

/** The part of Deno.ServeHandlerInfo the handler uses. */
export interface RequestInfo {
  remoteAddr: { hostname: string } | Deno.Addr;
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

function text(status: number, body: string, headers?: HeadersInit): Response {
  const response = new Response(body.endsWith("\n") ? body : `${body}\n`, {
    status,
    headers,
  });
  response.headers.set("content-type", "text/plain; charset=utf-8");
  return response;
}

/**
 * Browsers always send Origin on WebSocket handshakes, so checking it stops
 * other sites from using a visitor's browser to join (cross-site WebSocket
 * hijacking). Tools that send no Origin are not browsers and are allowed.
 */
function originAllowed(
  request: Request,
  host: string,
  allowed: readonly string[],
): boolean {
  const origin = request.headers.get("origin");
  if (origin === null) return true;
  if (allowed.includes(origin)) return true;
  // Same origin: the scheme may be http or https (a TLS proxy in front).
  return origin === `http://${host}` || origin === `https://${host}`;
}

/**
 * The host the browser asked for: the request's own, or with
 * `trustProxy` the one the proxy says it received (the last entry of
 * X-Forwarded-Host, as with X-Forwarded-For).
 */
function requestHost(request: Request, url: URL, trustProxy: boolean): string {
  if (trustProxy) {
    const forwarded = request.headers.get("x-forwarded-host")?.split(",")
      .at(-1)?.trim();
    // A host name and port only: it goes into the page's CSP header.
    if (forwarded && /^[A-Za-z0-9.:[\]-]+$/.test(forwarded)) return forwarded;
  }
  return url.host;
}

function clientAddress(
  request: Request,
  info: RequestInfo | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    // The proxy appends the address it saw; earlier entries are the
    // client's own claims and cannot be trusted.
    const forwarded = request.headers.get("x-forwarded-for");
    const last = forwarded?.split(",").at(-1)?.trim();
    if (last) return last;
  }
  const addr = info?.remoteAddr;
  return addr && "hostname" in addr ? addr.hostname : "unknown";
}

/**
 * A request from this machine itself, not relayed: a proxy on the same
 * machine also connects from loopback, but says whom it relays for.
 */
function fromThisMachine(
  request: Request,
  info: RequestInfo | undefined,
): boolean {
  const addr = info?.remoteAddr;
  const host = addr && "hostname" in addr ? addr.hostname : "";
  const loopback = host === "::1" || host.startsWith("127.") ||
    host.startsWith("::ffff:127.");
  return loopback && !request.headers.has("x-forwarded-for") &&
    !request.headers.has("forwarded") && !request.headers.has("x-real-ip");
}

/** "es" for readers who chose or whose browser prefers Spanish. */
export function pageLanguage(request: Request): "en" | "es" {
  const chosen = /(?:^|;\s*)chat-lang=(en|es)(?:;|$)/.exec(
    request.headers.get("cookie") ?? "",
  )?.[1];
  if (chosen === "en" || chosen === "es") return chosen;
  const first = request.headers.get("accept-language")?.split(",")[0]?.trim()
    .toLowerCase();
  return first?.startsWith("es") ? "es" : "en";
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
): (request: Request, info?: RequestInfo) => Response {
  const startedAt = options.startedAt ?? Date.now();
  const trustProxy = options.trustProxy ?? false;
  const allowedOrigins = [
    ...(options.allowedOrigins ?? []),
    ...(options.publicUrl ? [new URL(options.publicUrl).origin] : []),
  ];
  const limits = new ConnectionLimits({
    perAddress: options.maxConnectionsPerAddress ??
      DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    total: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
  });
  const log = options.log ?? (() => {});
  const storeHealth = options.storeHealth ??
    ((): StoreHealth => ({ ok: true }));

  const upgrade = (
    request: Request,
    url: URL,
    info: RequestInfo | undefined,
  ): Response => {
    if (
      !originAllowed(
        request,
        requestHost(request, url, trustProxy),
        allowedOrigins,
      )
    ) {
      return text(
        403,
        `Origin "${
          request.headers.get("origin")
        }" may not connect. Open the chat from its own page; behind a reverse proxy, start the server with --public-url (or --trust-proxy with X-Forwarded-Host set), or add --allowed-origin.`,
      );
    }
    // Deno would also accept the obsolete version 8; RFC 6455 says 13.
    if (request.headers.get("sec-websocket-version") !== "13") {
      return text(426, "Only WebSocket version 13 is supported.", {
        "sec-websocket-version": "13",
      });
    }
    const address = clientAddress(request, info, trustProxy);
    const admission = limits.admit(address);
    if (!admission.ok) {
      log(
        "warn",
        `refused a connection from ${address}: ${admission.reason} limit`,
      );
      return text(
        429,
        admission.reason === "address"
          ? "Too many connections from your address. Close some tabs and try again."
          : "The server is full. Try again later.",
        { "retry-after": "10" },
      );
    }
    try {
      return upgradeToChat(
        request,
        options.hub,
        admission.release,
        undefined,
        address,
      );
    } catch (error) {
      admission.release();
      return text(
        400,
        `Bad WebSocket handshake: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  };

  return (request, info) => {
    const url = new URL(request.url);
    if (isWebSocketUpgrade(request) && WS_PATHS.has(url.pathname)) {
      return upgrade(request, url, info);
    }
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD" },
      });
    }
    if (url.pathname === "/healthz") {
      const health = storeHealth();
      return Response.json({
        status: health.ok ? "ok" : "unavailable",
        ...(health.ok ? {} : { reason: health.reason }),
        uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        ...options.hub.stats(),
        sockets: limits.total,
      }, {
        status: health.ok ? 200 : 503,
        headers: { "cache-control": "no-store" },
      });
    }
    if (url.pathname === "/share.json") {
      return Response.json({ urls: options.shareUrls?.() ?? [] }, {
        headers: { "cache-control": "no-store" },
      });
    }
    if (url.pathname === "/metrics") {
      if (!options.exposeMetrics && !fromThisMachine(request, info)) {
        return text(
          403,
          "Metrics are served to this machine only; start the chat with --expose-metrics to serve them to others.",
        );
      }
      const memory = Deno.memoryUsage();
      const { connections, rooms } = options.hub.stats();
      return new Response(
        renderMetrics(options.hub.metrics, {
          connections,
          rooms,
          storeHealthy: storeHealth().ok,
          memory,
          uptimeSeconds: Math.round((Date.now() - startedAt) / 1000),
        }),
        {
          headers: {
            "content-type": "text/plain; version=0.0.4; charset=utf-8",
            "cache-control": "no-store",
          },
        },
      );
    }
    if (url.pathname === "/export") {
      return exportRoom(request, url, options.hub, log);
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
      const headers = securityHeaders(requestHost(request, url, trustProxy));
      headers.set("content-type", asset.contentType);
      headers.set("cache-control", "no-cache");
      headers.set("etag", `"${ASSETS_HASH}"`);
      if (request.headers.get("if-none-match") === `"${ASSETS_HASH}"`) {
        return new Response(null, { status: 304, headers });
      }
      return new Response(asset.body, { headers });
    }
    if (roomFromPath(url.pathname) !== null) {
      const headers = securityHeaders(requestHost(request, url, trustProxy));
      headers.set("content-type", "text/html; charset=utf-8");
      headers.set("cache-control", "no-cache");
      // In the reader's language from the first paint: the choice they made
      // on this page (a cookie), else their browser's.
      headers.set("vary", "accept-language, cookie");
      return new Response(INDEX_HTML_BY_LANG[pageLanguage(request)], {
        headers,
      });
    }
    return new Response("Not found\n", {
      status: 404,
      headers: { "content-type": "text/plain" },
    });
  };
}

/**
 * GET /export?room=NAME&format=text|json with `Authorization: Bearer
 * <moderator key>`: the room's transcript, streamed from the store. The key
 * travels in a header, never in the URL (which logs and proxies keep).
 */
function exportRoom(
  request: Request,
  url: URL,
  hub: Hub,
  log: (level: "warn" | "error", message: string) => void,
): Response {
  const key = /^Bearer (\S+)$/.exec(
    request.headers.get("authorization") ?? "",
  )?.[1];
  if (key === undefined || !hub.isModeratorKey(key)) {
    if (key !== undefined) log("warn", "moderation: refused an export key");
    return text(
      401,
      "Exports are for moderators: send the moderator key as Authorization: Bearer <key>.",
      { "www-authenticate": 'Bearer realm="chat moderators"' },
    );
  }
  const format = url.searchParams.get("format") ?? "text";
  if (format !== "text" && format !== "json") {
    return text(400, 'Format must be "text" or "json".');
  }
  let room: string;
  try {
    room = normalizeRoomName(url.searchParams.get("room") ?? DEFAULT_ROOM);
  } catch (error) {
    return text(
      400,
      error instanceof ProtocolError ? error.message : "Bad room name",
    );
  }
  const now = Date.now();
  const entries = hub.transcript(room);
  const encoder = new TextEncoder();
  let first = true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(encoder.encode(
        format === "json" ? jsonHeader(room, now) : textHeader(room, now),
      ));
    },
    async pull(controller) {
      try {
        const next = await entries.next();
        if (next.done) {
          if (format === "json") {
            controller.enqueue(encoder.encode(JSON_FOOTER));
          }
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(
          format === "json"
            ? jsonLine(next.value, first)
            : textLine(next.value),
        ));
        first = false;
      } catch (error) {
        log("warn", `export of ${room} failed: ${error}`);
        controller.error(error);
      }
    },
    async cancel() {
      await entries.return(undefined);
    },
  });
  log("warn", `moderation: exported ${room} as ${format}`);
  const stamp = new Date(now).toISOString().slice(0, 10);
  return new Response(body, {
    headers: {
      "content-type": format === "json"
        ? "application/json; charset=utf-8"
        : "text/plain; charset=utf-8",
      "content-disposition": `attachment; filename="chat-${
        encodeURIComponent(room)
      }-${stamp}.${format === "json" ? "json" : "txt"}"`,
      "cache-control": "no-store",
    },
  });
}
