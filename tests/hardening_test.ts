/**
 * Hardening tests: what a hostile or broken client can do to the server.
 * Admission (origin, version, connection caps), rate limits, bad frames,
 * prototype pollution, hand-made WebSocket frames that break RFC 6455,
 * a client that stops reading, and a peer that goes silent.
 *
 * All fast except the heartbeat test, which waits for Deno's idle timeout
 * (about 15 s) because the timeout is fixed in the WebSocket edge.
 */

import assert from "node:assert/strict";
import type { Hub } from "../server/chat/hub.ts";
import {
  DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
  type HandlerOptions,
} from "../server/http.ts";
import { startServer, TestClient } from "./helpers.ts";
import {
  closePayload,
  encodeFrame,
  type FrameOptions,
  OPCODE,
  RawWebSocket,
  type UpgradeOptions,
} from "./raw_ws.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server with the product's connection caps unless `options` change them. */
function serveWith(options: Omit<HandlerOptions, "hub">) {
  return startServer({}, {
    maxConnectionsPerAddress: DEFAULT_MAX_CONNECTIONS_PER_ADDRESS,
    ...options,
  });
}

/** Runs `hub.sweep()` every `ms` until the returned function is called. */
function sweepEvery(hub: Hub, ms: number): () => void {
  const timer = setInterval(() => hub.sweep(), ms);
  return () => clearInterval(timer);
}

/** Opens raw upgrades one after another, so they are admitted in order. */
async function upgrades(
  port: number,
  count: number,
  options: UpgradeOptions = {},
): Promise<RawWebSocket[]> {
  const sockets: RawWebSocket[] = [];
  for (let i = 0; i < count; i++) {
    sockets.push(await RawWebSocket.open(port, options));
  }
  return sockets;
}

async function destroyAll(sockets: RawWebSocket[]): Promise<void> {
  await Promise.all(sockets.map((socket) => socket.destroy()));
}

/** Waits for the `joined` notice of member `id`, skipping others. */
async function nextJoinedOf(watcher: TestClient, id: string): Promise<void> {
  while ((await watcher.next("joined")).member.id !== id) {
    // The watcher's own notice, or someone else's.
  }
}

/** The member id a raw client was welcomed with. */
function memberIdOf(welcome: Record<string, unknown>): string {
  const you = welcome["you"];
  assert.ok(typeof you === "object" && you !== null && "id" in you);
  assert.equal(typeof you.id, "string");
  return String(you.id);
}

/** The server still lets a newcomer join and chat with `watcher`. */
async function assertStillChatting(
  wsUrl: string,
  watcher: TestClient,
): Promise<void> {
  const { client } = await TestClient.join(wsUrl);
  try {
    const id = crypto.randomUUID();
    client.send({ type: "send", id, text: "still here" });
    assert.equal((await client.next("ack")).id, id);
    const chat = await watcher.next("chat");
    assert.equal(chat.message.clientId, id);
  } finally {
    await client.close();
  }
}

// ---------------------------------------------------------------------------
// 1. Origin.
// ---------------------------------------------------------------------------

Deno.test("upgrades from foreign origins are refused with 403 and never upgraded", async () => {
  const server = startServer();
  const sockets: RawWebSocket[] = [];
  try {
    const cases: [string, string][] = [
      [`127.0.0.1:${server.port}`, "https://evil.example"],
      // A prefix match would let this through.
      ["localhost:8765", "http://localhost:8765.evil.example"],
      // Sandboxed iframes and file: pages send the literal "null".
      [`127.0.0.1:${server.port}`, "null"],
    ];
    for (const [host, origin] of cases) {
      const raw = await RawWebSocket.open(server.port, {
        headers: { Host: host, Origin: origin },
      });
      sockets.push(raw);
      assert.equal(raw.status, 403, origin);
      assert.equal(raw.headers.get("sec-websocket-accept"), undefined, origin);
      assert.match(raw.body, /Origin/, origin);
    }
    assert.equal(server.hub.stats().connections, 0);
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("same-origin upgrades and upgrades without an Origin are accepted", async () => {
  const server = startServer();
  const sockets: RawWebSocket[] = [];
  try {
    const cases: Record<string, string | null>[] = [
      { Origin: `http://127.0.0.1:${server.port}` },
      // Behind a TLS proxy the page's origin is https on the same host.
      { Origin: `https://127.0.0.1:${server.port}` },
      { Host: "localhost:8765", Origin: "http://localhost:8765" },
      // Command-line tools send no Origin; they are not browsers.
      {},
    ];
    for (const headers of cases) {
      const raw = await RawWebSocket.open(server.port, { headers });
      sockets.push(raw);
      assert.equal(raw.status, 101, JSON.stringify(headers));
    }
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("an origin listed in allowedOrigins is accepted and others still are not", async () => {
  const server = serveWith({ allowedOrigins: ["https://chat.example.org"] });
  const sockets: RawWebSocket[] = [];
  try {
    const allowed = await RawWebSocket.open(server.port, {
      headers: { Origin: "https://chat.example.org" },
    });
    sockets.push(allowed);
    assert.equal(allowed.status, 101);
    for (
      const origin of [
        "https://evil.example",
        "https://chat.example.org.evil.example",
        "http://chat.example.org",
      ]
    ) {
      const refused = await RawWebSocket.open(server.port, {
        headers: { Origin: origin },
      });
      sockets.push(refused);
      assert.equal(refused.status, 403, origin);
    }
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 2. Protocol version and plain requests.
// ---------------------------------------------------------------------------

Deno.test("Sec-WebSocket-Version 8 is refused with 426 naming version 13", async () => {
  const server = startServer();
  const sockets: RawWebSocket[] = [];
  try {
    for (const version of ["8", null]) {
      const raw = await RawWebSocket.open(server.port, {
        headers: { "Sec-WebSocket-Version": version },
      });
      sockets.push(raw);
      assert.equal(raw.status, 426, `version ${version}`);
      assert.equal(raw.headers.get("sec-websocket-version"), "13");
    }
    assert.equal(server.hub.stats().connections, 0);
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("a plain GET to /ws over the network is 426 with a helpful body, not 500", async () => {
  const server = startServer();
  try {
    const response = await fetch(`${server.url}/ws`);
    assert.equal(response.status, 426);
    assert.match(await response.text(), /WebSocket endpoint/);
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 3. Connection caps.
// ---------------------------------------------------------------------------

Deno.test("the 21st connection from one address gets 429 before upgrading, and a close frees a slot", async () => {
  // The product's default cap (startServer lifts it for other tests).
  const server = serveWith({});
  const sockets: RawWebSocket[] = [];
  try {
    sockets.push(...await upgrades(server.port, 20));
    assert.deepEqual(
      sockets.map((s) => s.status),
      Array(20).fill(101),
    );
    const refused = await RawWebSocket.open(server.port);
    sockets.push(refused);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get("sec-websocket-accept"), undefined);
    assert.ok(refused.headers.has("retry-after"));
    assert.match(refused.body, /Too many connections from your address/);

    await sockets.shift()!.destroy();
    // The slot is released when the server sees the close: poll briefly.
    let admitted: RawWebSocket | undefined;
    const deadline = Date.now() + 2000;
    while (Date.now() < deadline) {
      const attempt = await RawWebSocket.open(server.port);
      sockets.push(attempt);
      if (attempt.status === 101) {
        admitted = attempt;
        break;
      }
      await sleep(50);
    }
    assert.equal(admitted?.status, 101, "no slot freed within 2 s");
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("the global connection cap refuses with 429 when the server is full", async () => {
  const server = serveWith({ maxConnections: 3 });
  const sockets: RawWebSocket[] = [];
  try {
    sockets.push(...await upgrades(server.port, 3));
    assert.deepEqual(sockets.map((s) => s.status), [101, 101, 101]);
    const refused = await RawWebSocket.open(server.port);
    sockets.push(refused);
    assert.equal(refused.status, 429);
    assert.match(refused.body, /server is full/);
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("with trustProxy each X-Forwarded-For address has its own cap, counted by the last hop", async () => {
  const server = serveWith({ trustProxy: true, maxConnectionsPerAddress: 2 });
  const sockets: RawWebSocket[] = [];
  const from = (forwarded: string) =>
    RawWebSocket.open(server.port, {
      headers: { "X-Forwarded-For": forwarded },
    }).then((raw) => {
      sockets.push(raw);
      return raw.status;
    });
  try {
    assert.equal(await from("203.0.113.1"), 101);
    assert.equal(await from("203.0.113.1"), 101);
    assert.equal(await from("203.0.113.1"), 429);
    // Earlier entries are the client's own claim; only the last hop counts.
    assert.equal(await from("198.51.100.7, 203.0.113.1"), 429);
    assert.equal(await from("203.0.113.2"), 101);
    assert.equal(await from("203.0.113.1, 203.0.113.2"), 101);
    assert.equal(await from("203.0.113.2"), 429);
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

Deno.test("without trustProxy X-Forwarded-For is ignored and the socket address is capped", async () => {
  const server = serveWith({ maxConnectionsPerAddress: 2 });
  const sockets: RawWebSocket[] = [];
  try {
    for (
      const [forwarded, status] of [["10.0.0.1", 101], [
        "10.0.0.2",
        101,
      ], ["10.0.0.3", 429]] as const
    ) {
      const raw = await RawWebSocket.open(server.port, {
        headers: { "X-Forwarded-For": forwarded },
      });
      sockets.push(raw);
      assert.equal(raw.status, status, forwarded);
    }
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 4. Rate limits.
// ---------------------------------------------------------------------------

Deno.test("a burst of 10 messages is accepted and the 11th is rate_limited with retryAfterMs and its id", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    for (let i = 1; i <= 11; i++) {
      client.send({ type: "send", id: `m${i}`, text: `n${i}` });
    }
    const error = await client.next("error");
    assert.equal(error.code, "rate_limited");
    assert.equal(error.ref, "m11");
    assert.ok(
      error.retryAfterMs !== undefined && error.retryAfterMs > 0 &&
        error.retryAfterMs <= 1000,
      `retryAfterMs ${error.retryAfterMs}`,
    );
    await client.settle();
    assert.deepEqual(
      client.all("ack").map((ack) => ack.id),
      Array.from({ length: 10 }, (_, i) => `m${i + 1}`),
    );
    assert.equal(client.all("chat").length, 10);
    assert.equal(client.all("error").length, 1);
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("a second rename within 10 s is rate_limited", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    client.send({ type: "rename", name: "Ana" });
    assert.equal((await client.next("renamed")).to, "Ana");
    client.send({ type: "rename", name: "Bea" });
    const error = await client.next("error");
    assert.equal(error.code, "rate_limited");
    assert.equal(error.ref, "rename");
    assert.ok(
      error.retryAfterMs !== undefined && error.retryAfterMs > 5000 &&
        error.retryAfterMs <= 10_000,
      `retryAfterMs ${error.retryAfterMs}`,
    );
    await client.settle();
    assert.equal(client.all("renamed").length, 1);
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("sustained abuse (60 sends in a burst) disconnects that connection while others keep chatting", async () => {
  const server = startServer({ leaveGraceMs: 200 });
  const stopSweeping = sweepEvery(server.hub, 50);
  try {
    const { client: abuser, welcome } = await TestClient.join(server.wsUrl);
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    for (let i = 0; i < 60; i++) {
      abuser.send({ type: "send", id: `a${i}`, text: "spam" });
    }
    // The close code does not survive a client that is still sending: see
    // the known limitation below. That the connection ends is what counts.
    await abuser.closed;
    const refusals = abuser.all("error").filter((e) =>
      e.code === "rate_limited"
    );
    assert.ok(refusals.length >= 30, `${refusals.length} refusals`);
    assert.ok(refusals.length < 50, `${refusals.length} refusals`);
    const left = await bea.next("left");
    assert.equal(left.member.id, welcome.you.id);

    ana.send({ type: "send", id: "ok", text: "unaffected" });
    assert.equal((await ana.next("ack")).id, "ok");
    await bea.settle();
    const texts = bea.all("chat").map((c) => c.message.text);
    assert.equal(texts.at(-1), "unaffected");
    assert.ok(texts.slice(0, -1).every((text) => text === "spam"));
    assert.equal(ana.socket.readyState, WebSocket.OPEN);
    assert.equal(bea.socket.readyState, WebSocket.OPEN);
    assert.equal(ana.all("error").length, 0);
    assert.equal(bea.all("error").length, 0);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    stopSweeping();
    await server.close();
  }
});

Deno.test("an abusive client that reads its refusals is closed with 1008", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    for (let i = 0; i < 10; i++) {
      client.send({ type: "send", id: `ok${i}`, text: "fine" });
    }
    let refused = 0;
    while (client.socket.readyState === WebSocket.OPEN && refused < 60) {
      client.send({ type: "send", id: `r${refused}`, text: "spam" });
      await client.next("error").catch(() => {});
      refused++;
    }
    const closed = await client.closed;
    assert.equal(closed.code, 1008);
    assert.equal(closed.reason, "Too many refused messages");
    assert.equal(refused, 31, "closed at the refusal after a budget of 30");
  } finally {
    await server.close();
  }
});

Deno.test("known limitation: a client still sending when the server closes it gets no close frame, only a TCP close", async () => {
  const server = startServer();
  const sockets: RawWebSocket[] = [];
  try {
    const offences: [string, Uint8Array][] = [
      ["binary", encodeFrame({ opcode: OPCODE.binary, payload: "x" })],
      [
        "over 64 KiB",
        encodeFrame({ opcode: OPCODE.text, payload: "x".repeat(70_000) }),
      ],
    ];
    for (const [what, offence] of offences) {
      const raw = await RawWebSocket.open(server.port);
      sockets.push(raw);
      raw.sendJson({ type: "hello", room: "main" });
      await raw.nextMessage("welcome");
      // One more frame right behind the offending one, as a busy client
      // would send. Deno then ends the TCP connection without writing the
      // close frame (1003/1009/1008) it was asked to send. If this starts
      // failing, Deno now delivers it: update docs/PROTOCOL.md and this test.
      const typing = encodeFrame({
        opcode: OPCODE.text,
        payload: '{"type":"typing"}',
      });
      raw.write(Uint8Array.from([...offence, ...typing]));
      const ending = await raw.endedWithin(2000);
      assert.ok(ending?.ended, `${what}: the server ends the connection`);
      assert.equal(raw.closeFrame(), null, `${what}: no close frame`);
    }
  } finally {
    await destroyAll(sockets);
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 5. Bad frames from a real client.
// ---------------------------------------------------------------------------

Deno.test("a binary frame closes that connection with 1003 and the server keeps serving", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    ana.socket.send(new Uint8Array([123, 125]));
    assert.equal((await ana.closed).code, 1003);
    await assertStillChatting(server.wsUrl, bea);
    await bea.close();
  } finally {
    await server.close();
  }
});

Deno.test("a text frame over 64 KiB closes with 1009; exactly 64 KiB is only refused", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    client.send("x".repeat(64 * 1024));
    assert.equal((await client.next("error")).code, "frame_too_large");
    assert.equal(client.socket.readyState, WebSocket.OPEN);
    client.send("x".repeat(64 * 1024 + 1));
    const closed = await client.closed;
    assert.equal(closed.code, 1009);
  } finally {
    await server.close();
  }
});

Deno.test("a frame between 16 KiB and 64 KiB gets frame_too_large and the socket stays open", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    const frames = [
      "x".repeat(16 * 1024 + 1),
      // 8193 two-byte characters: under 16 Ki characters, over 16 KiB.
      JSON.stringify({ type: "send", id: "big", text: "é".repeat(8193) }),
      "y".repeat(40 * 1024),
    ];
    for (const frame of frames) {
      client.send(frame);
      assert.equal((await client.next("error")).code, "frame_too_large");
    }
    assert.equal(client.socket.readyState, WebSocket.OPEN);
    client.send({ type: "send", id: "after", text: "fits" });
    assert.equal((await client.next("ack")).id, "after");
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("anything before hello is refused with hello_required and hello still works", async () => {
  const server = startServer();
  try {
    const client = await TestClient.open(server.wsUrl);
    const frames = [
      { type: "send", id: "early", text: "hi" },
      { type: "rename", name: "Ana" },
      { type: "typing" },
    ];
    for (const frame of frames) {
      client.send(frame);
      assert.equal((await client.next("error")).code, "hello_required");
    }
    client.send({ type: "hello", room: "main" });
    assert.equal((await client.next("welcome")).room, "main");
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("a client closed for a binary or oversized frame leaves the room even if it never answers the close", async () => {
  const server = startServer({ leaveGraceMs: 200 });
  const stopSweeping = sweepEvery(server.hub, 50);
  const { client: watcher } = await TestClient.join(server.wsUrl);
  const sockets: RawWebSocket[] = [];
  try {
    const offences: [string, FrameOptions][] = [
      ["binary", { opcode: OPCODE.binary, payload: "x" }],
      ["over 64 KiB", { opcode: OPCODE.text, payload: "x".repeat(70_000) }],
    ];
    const lingering: string[] = [];
    for (const [what, offence] of offences) {
      const raw = await RawWebSocket.open(server.port);
      sockets.push(raw);
      raw.sendJson({ type: "hello", room: "main" });
      const memberId = memberIdOf(await raw.nextMessage("welcome"));
      await nextJoinedOf(watcher, memberId);
      raw.send(offence);
      // The server's close frame arrives, but this client never answers it,
      // like a crashed or hostile peer. It must not stay a member for that.
      assert.ok((await raw.nextClose()).code, what);
      const left = await watcher.next("left", 2000).catch(() => null);
      if (left?.member.id !== memberId) lingering.push(what);
    }
    assert.deepEqual(
      lingering,
      [],
      `no "left" 2 s after the server closed the client (${
        lingering.join(", ")
      }); the hub still holds ${server.hub.stats().connections} connections`,
    );
  } finally {
    stopSweeping();
    await destroyAll(sockets);
    await watcher.close();
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 6. Prototype pollution.
// ---------------------------------------------------------------------------

Deno.test("__proto__ and constructor keys are refused and never reach Object.prototype", async () => {
  const server = startServer();
  try {
    const client = await TestClient.open(server.wsUrl);
    const frames = [
      '{"type":"hello","room":"main","constructor":{"prototype":{"polluted":1}}}',
      '{"type":"hello","room":"main","__proto__":{"polluted":1}}',
      '{"type":"send","id":"x","text":"hi","__proto__":{"polluted":1}}',
      '{"type":"__proto__","polluted":1}',
      '{"type":"constructor"}',
      '{"type":"hello","room":{"__proto__":{"polluted":1}}}',
    ];
    for (const frame of frames) {
      client.send(frame);
      const error = await client.next("error");
      assert.ok(
        ["bad_message", "unknown_type"].includes(error.code),
        `${frame}: ${error.code}`,
      );
    }
    client.send({ type: "hello", room: "main" });
    await client.next("welcome");
    client.send(
      '{"type":"send","id":"x","text":"hi","__proto__":{"polluted":1}}',
    );
    assert.equal((await client.next("error")).code, "bad_message");
    assert.equal((({}) as Record<string, unknown>)["polluted"], undefined);
    assert.equal(Object.hasOwn(Object.prototype, "polluted"), false);
    assert.equal(Object.hasOwn(Function.prototype, "polluted"), false);
    await client.close();
  } finally {
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 7. Hand-made frames that break RFC 6455.
//
// Observed with Deno 2.9.6: every one of these fails the connection at once
// (within ~15 ms) with a bare TCP close: no close frame is sent, so a client
// sees 1006. RFC 6455 would allow a close frame with the code listed; either
// is accepted here.
// ---------------------------------------------------------------------------

interface RawCase {
  behaviour: string;
  act: (raw: RawWebSocket) => void;
  /** The close code RFC 6455 suggests, if the server sends one. */
  code: number;
}

const RAW_CASES: RawCase[] = [
  {
    behaviour: "a ping with a 126-byte payload (control frames max 125)",
    act: (raw) =>
      raw.send({ opcode: OPCODE.ping, payload: new Uint8Array(126) }),
    code: 1002,
  },
  {
    behaviour: "a frame with RSV1 set and no extension negotiated",
    act: (raw) =>
      raw.send({ opcode: OPCODE.text, rsv: 4, payload: '{"type":"typing"}' }),
    code: 1002,
  },
  {
    behaviour: "a frame with the reserved opcode 0x3",
    act: (raw) => raw.send({ opcode: 0x3, payload: "x" }),
    code: 1002,
  },
  {
    behaviour: "a text frame with invalid UTF-8",
    act: (raw) =>
      raw.send({
        opcode: OPCODE.text,
        payload: Uint8Array.from([
          ...new TextEncoder().encode('{"type":"send","id":"u","text":"'),
          0xC3,
          0x28,
          0xFF,
          ...new TextEncoder().encode('"}'),
        ]),
      }),
    code: 1007,
  },
  {
    behaviour: "a fragmented ping (FIN=0 on a control frame)",
    act: (raw) => raw.send({ opcode: OPCODE.ping, fin: false, payload: "a" }),
    code: 1002,
  },
  {
    behaviour: "a continuation frame with nothing to continue",
    act: (raw) => raw.send({ opcode: OPCODE.continuation, payload: "x" }),
    code: 1002,
  },
  {
    behaviour: "a close frame with a 1-byte payload",
    act: (raw) => raw.send({ opcode: OPCODE.close, payload: Uint8Array.of(3) }),
    code: 1002,
  },
  {
    behaviour: "a header announcing a 100 MiB payload",
    act: (raw) =>
      raw.write(encodeFrame({
        opcode: OPCODE.text,
        announcedLength: 100 * 1024 * 1024,
        payload: '{"type":',
      })),
    code: 1009,
  },
];

/**
 * A raw client joins (so it is a member), commits `act`, and must be gone
 * within 2 s: its socket closed, exactly one `left` for it, and the server
 * still serving everyone else.
 */
async function assertRawClientIsFailed(rawCase: RawCase): Promise<void> {
  const server = startServer({ leaveGraceMs: 200 });
  const stopSweeping = sweepEvery(server.hub, 50);
  const { client: watcher } = await TestClient.join(server.wsUrl);
  const raw = await RawWebSocket.open(server.port);
  try {
    raw.sendJson({ type: "hello", room: "main" });
    const welcome = await raw.nextMessage("welcome");
    const memberId = memberIdOf(welcome);
    await nextJoinedOf(watcher, memberId);

    const sentAt = Date.now();
    rawCase.act(raw);
    const ending = await raw.endedWithin(2000);
    assert.ok(ending, "the connection is still open 2 s later");
    const close = raw.closeFrame();
    assert.ok(
      close === null || close.code === rawCase.code,
      `closed with ${close?.code} after ${Date.now() - sentAt} ms`,
    );

    const left = await watcher.next("left", 2000);
    assert.equal(left.member.id, memberId);
    await sleep(300);
    assert.equal(
      watcher.all("left").filter((l) => l.member.id === memberId).length,
      1,
    );
    assert.equal(server.hub.stats().connections, 1);
    await assertStillChatting(server.wsUrl, watcher);
  } finally {
    stopSweeping();
    await raw.destroy();
    await watcher.close();
    await server.close();
  }
}

for (const rawCase of RAW_CASES) {
  Deno.test(
    `a raw client sending ${rawCase.behaviour} is disconnected and leaves once`,
    () => assertRawClientIsFailed(rawCase),
  );
}

Deno.test("known limitation: Deno accepts unmasked client frames (RFC 6455 says fail the connection)", async () => {
  const server = startServer({ leaveGraceMs: 200 });
  const { client: watcher } = await TestClient.join(server.wsUrl);
  const raw = await RawWebSocket.open(server.port);
  try {
    raw.sendJson({ type: "hello", room: "main" });
    await raw.nextMessage("welcome");
    raw.send({
      opcode: OPCODE.text,
      mask: false,
      payload: JSON.stringify({ type: "send", id: "bare", text: "unmasked" }),
    });
    // Deno unmasks nothing and handles the frame like any other. If this
    // starts failing, Deno now enforces masking: update docs and this test.
    assert.equal((await raw.nextMessage("ack"))["id"], "bare");
    assert.equal((await watcher.next("chat")).message.text, "unmasked");
    assert.equal(await raw.endedWithin(300), null);
  } finally {
    await raw.destroy();
    await watcher.close();
    await server.close();
  }
});

Deno.test("a raw client's well-formed close frame is answered with the same code", async () => {
  const server = startServer();
  const raw = await RawWebSocket.open(server.port);
  try {
    raw.sendJson({ type: "hello", room: "main" });
    await raw.nextMessage("welcome");
    raw.send({ opcode: OPCODE.close, payload: closePayload(1000, "bye") });
    assert.equal((await raw.nextClose(2000)).code, 1000);
    assert.ok(await raw.endedWithin(2000), "socket closed after the echo");
  } finally {
    await raw.destroy();
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// 8. Backpressure: a client that stops reading.
// ---------------------------------------------------------------------------

const FLOOD_COUNT = 2000;
const FLOOD_TEXT = "x".repeat(3000);
/** Sends in flight at once, as a client outbox would keep them. */
const FLOOD_WINDOW = 50;

interface Flood {
  server: ReturnType<typeof startServer>;
  watcher: TestClient;
  flooder: TestClient;
  stalled: RawWebSocket;
  stalledId: string;
  rssGrowthBytes: number;
  stopSweeping: () => void;
}

/**
 * A raw client joins and stops reading; then another client sends
 * FLOOD_COUNT messages of 3 KB (6 MB for every member) while a watcher reads
 * normally. Resolves once the watcher has every message.
 */
async function flood(): Promise<Flood> {
  const server = startServer({
    leaveGraceMs: 200,
    sendRate: { capacity: 1e6, refillPerSecond: 1e6 },
  });
  const stopSweeping = sweepEvery(server.hub, 50);
  const { client: watcher } = await TestClient.join(server.wsUrl);
  const { client: flooder } = await TestClient.join(server.wsUrl);
  const stalled = await RawWebSocket.open(server.port);
  stalled.sendJson({ type: "hello", room: "main" });
  const welcome = await stalled.nextMessage("welcome");
  const stalledId = memberIdOf(welcome);
  stalled.socket.pause();

  const rssBefore = Deno.memoryUsage().rss;
  let rssPeak = rssBefore;
  for (let i = 0; i < FLOOD_COUNT; i++) {
    flooder.send({ type: "send", id: `f${i}`, text: FLOOD_TEXT });
    if (i >= FLOOD_WINDOW) await flooder.next("ack", 5000);
    if (i % 100 === 0) rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
  }
  for (let i = 0; i < FLOOD_WINDOW; i++) await flooder.next("ack", 5000);
  for (let i = 0; i < FLOOD_COUNT; i++) await watcher.next("chat", 5000);
  rssPeak = Math.max(rssPeak, Deno.memoryUsage().rss);
  return {
    server,
    watcher,
    flooder,
    stalled,
    stalledId,
    rssGrowthBytes: rssPeak - rssBefore,
    stopSweeping,
  };
}

async function endFlood(f: Flood): Promise<void> {
  f.stopSweeping();
  await f.stalled.destroy();
  await Promise.all([f.watcher.close(), f.flooder.close()]);
  await f.server.close();
}

Deno.test("a client that stops reading is closed with 1008 while the others get every message and memory stays bounded", async () => {
  const f = await flood();
  try {
    const seqs = f.watcher.all("chat").map((c) => c.message.seq);
    assert.deepEqual(
      seqs,
      Array.from({ length: FLOOD_COUNT }, (_, i) => i + 1),
    );
    assert.equal(f.flooder.all("ack").length, FLOOD_COUNT);
    assert.equal(f.flooder.socket.readyState, WebSocket.OPEN);
    assert.equal(f.watcher.socket.readyState, WebSocket.OPEN);
    assert.ok(
      f.rssGrowthBytes < 200 * 1024 * 1024,
      `RSS grew by ${Math.round(f.rssGrowthBytes / 1024 / 1024)} MiB`,
    );

    // Reading again, the stalled client finds what was queued before the
    // server gave up on it, then the server's close frame.
    f.stalled.socket.resume();
    const close = await f.stalled.nextClose(5000);
    assert.equal(close.code, 1008);
    const delivered = f.stalled.messages().filter((m) => m["type"] === "chat");
    assert.ok(
      delivered.length < FLOOD_COUNT,
      `the stalled client was sent all ${delivered.length} messages`,
    );
  } finally {
    await endFlood(f);
  }
});

Deno.test("a client that stops reading is removed from the room without waiting for it to read", async () => {
  const f = await flood();
  try {
    // The stalled client is still paused: it will never read the close
    // frame, so it can never answer it. The server must drop it anyway.
    const left = await f.watcher.next("left", 3000).catch(() => null);
    assert.equal(
      left?.member.id,
      f.stalledId,
      `no "left" 3 s after the flood; the hub still holds ${f.server.hub.stats().connections} connections (watcher, flooder and the stalled client)`,
    );
    assert.equal(f.server.hub.stats().connections, 2);
  } finally {
    await endFlood(f);
  }
});

// ---------------------------------------------------------------------------
// 9. Dead peers. SLOW: about 15 s, Deno's idle timeout (fixed in ws_edge.ts):
// a ping after 7.5 s of silence, a close 7.5 s later if no pong came.
// ---------------------------------------------------------------------------

Deno.test("slow (~15 s): a silent peer that never answers pings is dropped and its leave announced once", async () => {
  const server = startServer({ leaveGraceMs: 200 });
  const stopSweeping = sweepEvery(server.hub, 100);
  // A Deno WebSocket client answers pings by itself, so the watcher stays.
  const { client: watcher } = await TestClient.join(server.wsUrl);
  const raw = await RawWebSocket.open(server.port);
  try {
    raw.sendJson({ type: "hello", room: "main" });
    const welcome = await raw.nextMessage("welcome");
    const memberId = memberIdOf(welcome);
    const silentFrom = Date.now();

    const ending = await raw.endedWithin(45_000);
    assert.ok(ending, "the silent peer is still connected after 45 s");
    const silentMs = Date.now() - silentFrom;
    assert.ok(
      raw.frames.some((f) => f.opcode === OPCODE.ping),
      "the server pinged",
    );
    assert.equal(raw.closeFrame()?.code, 1001);

    const left = await watcher.next("left", 2000);
    assert.equal(left.member.id, memberId);
    await sleep(300);
    assert.equal(watcher.all("left").length, 1);
    assert.equal(server.hub.stats().connections, 1);
    assert.equal(watcher.socket.readyState, WebSocket.OPEN);
    assert.ok(silentMs < 45_000, `dropped after ${silentMs} ms`);
  } finally {
    stopSweeping();
    await raw.destroy();
    await watcher.close();
    await server.close();
  }
});

Deno.test("a frame with a repeated key is refused and stores nothing, over a real socket", async () => {
  const server = startServer();
  try {
    const { client } = await TestClient.join(server.wsUrl);
    const { client: watcher } = await TestClient.join(server.wsUrl);
    client.send(
      '{"type":"rename","name":"Mallory","type":"send","id":"dup","text":"sneaky"}',
    );
    const error = await client.next("error");
    assert.equal(error.code, "bad_message");
    assert.match(error.message, /"type" appears more than once/);
    // The connection still works; nothing was stored or renamed.
    client.send({ type: "send", id: "ok", text: "fine" });
    await client.until(
      () => client.all("ack").some((a) => a.id === "ok"),
      "ack",
    );
    await watcher.until(
      () => watcher.all("chat").some((c) => c.message.clientId === "ok"),
      "delivered",
    );
    assert.deepEqual(
      watcher.all("chat").map((c) => c.message.clientId),
      ["ok"],
    );
    assert.equal(watcher.all("renamed").length, 0);
    await client.close();
    await watcher.close();
  } finally {
    await server.close();
  }
});
