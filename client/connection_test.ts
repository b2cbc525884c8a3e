import assert from "node:assert/strict";
import type { ServerMessage, WelcomeMessage } from "../protocol/messages.ts";
import {
  backoffDelay,
  Connection,
  type ConnectionOptions,
  type ConnectionStatus,
  type SocketLike,
} from "./connection.ts";

/** A scripted socket: the test opens, feeds and closes it. */
class FakeSocket extends EventTarget implements SocketLike {
  static instances: FakeSocket[] = [];
  readyState = 0;
  readonly sent: string[] = [];
  readonly url: string;
  listeners = 0;
  closedWith: number | undefined;

  constructor(url: string) {
    super();
    this.url = url;
    FakeSocket.instances.push(this);
  }

  override addEventListener(
    type: string,
    listener: (event: Event) => void,
  ): void {
    this.listeners++;
    super.addEventListener(type, listener);
  }

  override removeEventListener(
    type: string,
    listener: (event: Event) => void,
  ): void {
    this.listeners--;
    super.removeEventListener(type, listener);
  }

  send(data: string): void {
    this.sent.push(data);
  }

  close(code?: number): void {
    this.closedWith = code;
    this.readyState = 3;
  }

  serverOpen(): void {
    this.readyState = 1;
    this.dispatchEvent(new Event("open"));
  }

  serverSend(message: ServerMessage): void {
    this.dispatchEvent(
      new MessageEvent("message", { data: JSON.stringify(message) }),
    );
  }

  serverClose(code = 1006): void {
    this.readyState = 3;
    this.dispatchEvent(new CloseEvent("close", { code }));
  }
}

/** Manual clock and timers. */
class FakeTime {
  now = 0;
  timers: { at: number; fn: () => void; cancelled: boolean }[] = [];

  setTimer = (fn: () => void, ms: number): () => void => {
    const timer = { at: this.now + ms, fn, cancelled: false };
    this.timers.push(timer);
    return () => {
      timer.cancelled = true;
    };
  };

  pending(): number {
    return this.timers.filter((t) => !t.cancelled).length;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      const due = this.timers
        .filter((t) => !t.cancelled && t.at <= end)
        .sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      due.cancelled = true;
      this.now = due.at;
      due.fn();
    }
    this.now = end;
  }
}

function welcome(): WelcomeMessage {
  return {
    type: "welcome",
    protocol: 2,
    room: "main",
    epoch: "e1",
    you: { id: "u1", name: "Ana" },
    resumeToken: "t".repeat(32),
    resumed: false,
    recovered: false,
    history: [],
    members: [{ id: "u1", name: "Ana" }],
    moreHistory: false,
    moreMembers: false,
    typingTimeoutMs: 5000,
  };
}

function setup(overrides: Partial<ConnectionOptions> = {}) {
  FakeSocket.instances = [];
  const time = new FakeTime();
  const statuses: ConnectionStatus[] = [];
  const messages: ServerMessage[] = [];
  const connection = new Connection({
    url: "ws://example.test/ws",
    hello: () => ({ type: "hello", room: "main" }),
    onMessage: (m) => messages.push(m),
    onStatus: (s) => statuses.push(s),
    WebSocket: FakeSocket,
    setTimer: time.setTimer,
    now: () => time.now,
    random: () => 0.5,
    ...overrides,
  });
  const socket = (i: number): FakeSocket => {
    const s = FakeSocket.instances[i];
    if (!s) throw new Error(`No socket #${i}`);
    return s;
  };
  return { connection, time, statuses, messages, socket };
}

Deno.test("backoff is full jitter under an exponential, capped ceiling", () => {
  assert.equal(backoffDelay(0, () => 0.999), 999);
  assert.equal(backoffDelay(3, () => 0.5), 4000);
  assert.equal(backoffDelay(10, () => 0.5), 15_000);
  assert.equal(backoffDelay(50, () => 0.999), 29_970);
  assert.equal(backoffDelay(5, () => 0), 0);
});

Deno.test("sends hello on open and reports open only after welcome", () => {
  const { connection, statuses, messages, socket } = setup();
  connection.start();
  assert.equal(socket(0).url, "ws://example.test/ws");
  assert.deepEqual(statuses.map((s) => s.phase), ["connecting"]);
  socket(0).serverOpen();
  assert.deepEqual(socket(0).sent.map((s) => JSON.parse(s)), [
    { type: "hello", room: "main" },
  ]);
  assert.equal(connection.send({ type: "typing" }), false);
  socket(0).serverSend(welcome());
  assert.deepEqual(statuses.map((s) => s.phase), ["connecting", "open"]);
  assert.equal(messages[0]?.type, "welcome");
  assert.equal(connection.send({ type: "typing" }), true);
  assert.equal(socket(0).sent.length, 2);
});

Deno.test("the welcome handler can already send", () => {
  let sent = false;
  const { connection, socket } = setup({
    onMessage: (m) => {
      if (m.type === "welcome") sent = connection.send({ type: "typing" });
    },
  });
  connection.start();
  socket(0).serverOpen();
  socket(0).serverSend(welcome());
  assert.ok(sent);
});

Deno.test("malformed frames are ignored", () => {
  const { connection, messages, socket } = setup();
  connection.start();
  socket(0).serverOpen();
  socket(0).dispatchEvent(new MessageEvent("message", { data: "{nope" }));
  socket(0).dispatchEvent(
    new MessageEvent("message", { data: '{"type":"chat"}' }),
  );
  assert.equal(messages.length, 0);
});

Deno.test("reconnects with growing delays and a countdown target", () => {
  const { connection, time, statuses, socket } = setup();
  connection.start();
  socket(0).serverOpen();
  socket(0).serverSend(welcome());
  socket(0).serverClose(1001);
  const waiting = statuses.at(-1);
  assert.deepEqual(waiting, {
    phase: "reconnecting",
    retryAt: 500,
    unreachable: false,
  });
  time.advance(499);
  assert.equal(FakeSocket.instances.length, 1);
  time.advance(1);
  assert.equal(FakeSocket.instances.length, 2);
  // Never opens: the server is unreachable, and the ceiling doubles.
  socket(1).serverClose(1006);
  assert.deepEqual(statuses.at(-1), {
    phase: "reconnecting",
    retryAt: time.now + 1000,
    unreachable: true,
  });
  time.advance(1000);
  socket(2).serverClose(1006);
  assert.deepEqual(statuses.at(-1), {
    phase: "reconnecting",
    retryAt: time.now + 2000,
    unreachable: true,
  });
});

Deno.test("the attempt counter resets after 10 s of a welcomed connection", () => {
  const { connection, time, socket } = setup();
  connection.start();
  for (let i = 0; i < 3; i++) {
    socket(i).serverClose();
    time.advance(60_000);
  }
  assert.equal(connection.attempt, 3);
  socket(3).serverOpen();
  socket(3).serverSend(welcome());
  time.advance(9_999);
  assert.equal(connection.attempt, 3);
  time.advance(1);
  assert.equal(connection.attempt, 0);
});

Deno.test("a connection dropped before 10 s keeps backing off", () => {
  const { connection, time, socket } = setup();
  connection.start();
  socket(0).serverClose();
  time.advance(60_000);
  socket(1).serverOpen();
  socket(1).serverSend(welcome());
  time.advance(5_000);
  socket(1).serverClose();
  assert.equal(connection.attempt, 2);
  time.advance(60_000);
  assert.equal(connection.attempt, 2);
});

Deno.test("close code 4001 stops reconnecting until retryNow", () => {
  const { connection, time, statuses, socket } = setup();
  connection.start();
  socket(0).serverOpen();
  socket(0).serverSend(welcome());
  socket(0).serverClose(4001);
  assert.deepEqual(statuses.at(-1), { phase: "closed", reason: "replaced" });
  time.advance(120_000);
  assert.equal(FakeSocket.instances.length, 1);
  connection.wake();
  assert.equal(FakeSocket.instances.length, 1);
  connection.retryNow();
  assert.equal(FakeSocket.instances.length, 2);
  assert.deepEqual(statuses.at(-1), { phase: "connecting" });
});

Deno.test("wake and retryNow connect immediately while waiting", () => {
  const { connection, time, socket } = setup({ random: () => 0.99 });
  connection.start();
  socket(0).serverClose();
  connection.wake();
  assert.equal(FakeSocket.instances.length, 2);
  // The cancelled backoff timer must not open a third socket.
  time.advance(60_000);
  assert.equal(FakeSocket.instances.length, 2);
  socket(1).serverClose();
  connection.retryNow();
  assert.equal(FakeSocket.instances.length, 3);
  // Neither does anything while a socket is live.
  connection.wake();
  connection.retryNow();
  assert.equal(FakeSocket.instances.length, 3);
});

Deno.test("listeners are removed from stale sockets and their events ignored", () => {
  const { connection, messages, statuses, socket } = setup();
  connection.start();
  const old = socket(0);
  assert.equal(old.listeners, 4);
  old.serverClose();
  assert.equal(old.listeners, 0);
  connection.wake();
  const count = statuses.length;
  old.serverOpen();
  old.serverSend(welcome());
  old.serverClose();
  assert.equal(statuses.length, count);
  assert.equal(messages.length, 0);
  assert.equal(old.sent.length, 0);
});

Deno.test("stop closes the socket and schedules nothing", () => {
  const { connection, time, statuses, socket } = setup();
  connection.start();
  socket(0).serverOpen();
  connection.stop();
  assert.equal(socket(0).closedWith, 1000);
  assert.equal(socket(0).listeners, 0);
  assert.deepEqual(statuses.at(-1), { phase: "closed", reason: "stopped" });
  time.advance(120_000);
  assert.equal(FakeSocket.instances.length, 1);
  assert.equal(time.pending(), 0);
});

Deno.test("a constructor that throws counts as an unreachable server", () => {
  const { connection, statuses } = setup({
    WebSocket: class extends FakeSocket {
      constructor(url: string) {
        super(url);
        throw new SyntaxError(`Bad URL "${url}"`);
      }
    },
  });
  connection.start();
  assert.equal(statuses.at(-1)?.phase, "reconnecting");
});
