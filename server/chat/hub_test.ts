/**
 * Unit tests for the chat core: plain-object peers, the memory store, local
 * fan-out, an injected clock and deterministic randomness. No sockets, no
 * timers, no sleeps.
 */

import assert from "node:assert/strict";
import {
  type ChatMessage,
  type ClientMessage,
  CLOSE_CODES,
  HISTORY_FRAME_CHARS,
  type Member,
  MEMBERS_PER_FRAME,
  MEMBERS_PER_PAGE,
  parseServerMessage,
  PROTOCOL_VERSION,
  type ServerMessage,
  type WelcomeMessage,
} from "../../protocol/messages.ts";
import { nameSkeleton } from "../../protocol/names.ts";
import { LocalFanout } from "../fanout/fanout.ts";
import { MemoryStore } from "../store/memory_store.ts";
import {
  type Appended,
  type ChatStore,
  dedupeKey,
  Followers,
  type History,
  type HistoryQuery,
  type LogFollower,
  type MessageDraft,
  type NameClaim,
  type OlderPage,
  type RoomLog,
  type SessionRecord,
  type StoreHealth,
  StoreUnavailableError,
} from "../store/store.ts";
import { DEFAULTS, Hub, type HubOptions } from "./hub.ts";
import type { Peer } from "./peer.ts";

type Of<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

/** A peer that records every frame (parsed and checked) and every close. */
class TestPeer implements Peer {
  readonly id: string;
  readonly frames: ServerMessage[] = [];
  readonly closes: { code: number; reason: string }[] = [];

  constructor(id: string) {
    this.id = id;
  }

  send(frame: string): void {
    if (this.#held?.length) {
      this.#held.push(frame);
      return;
    }
    const message = parseServerMessage(frame);
    if (!message) throw new Error(`Malformed server frame: ${frame}`);
    this.frames.push(message);
  }

  /**
   * Like the WebSocket edge with a client that reads at once, unless
   * `hold()` was called: then the stream and everything after it waits,
   * in order, for `release()`, like a client that is not reading yet.
   */
  #held: (string | Iterator<string>)[] | null = null;

  hold(): void {
    this.#held = [];
  }

  release(): void {
    const held = this.#held ?? [];
    this.#held = null;
    for (const item of held) {
      if (typeof item === "string") this.send(item);
      else this.stream(item);
    }
  }

  stream(frames: Iterator<string>): void {
    if (this.#held) {
      this.#held.push(frames);
      return;
    }
    for (let next = frames.next(); !next.done; next = frames.next()) {
      this.send(next.value);
    }
  }

  close(code: number, reason: string): void {
    this.closes.push({ code, reason });
  }

  all<T extends ServerMessage["type"]>(type: T): Of<T>[] {
    return this.frames.filter((m): m is Of<T> => m.type === type);
  }

  last<T extends ServerMessage["type"]>(type: T): Of<T> {
    const found = this.all(type).at(-1);
    assert.ok(found, `${this.id} received no "${type}"`);
    return found;
  }
}

/** A small seeded PRNG (mulberry32) so temporary names are reproducible. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Lets the memory store's already-resolved appends settle (microtasks only). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** An append a `SlowLog` holds until the test decides its commit. */
interface HeldAppend {
  key: string;
  draft: MessageDraft;
  resolve: (appended: Appended) => void;
  reject: (error: unknown) => void;
}

/**
 * A room log like a durable store's, around a memory log: an append reaches
 * the memory log (which numbers and stores it) only when the test calls
 * `release`, and followers hear of it only after that commit, once the
 * append has settled. A failed commit stores nothing, so its seqs are handed
 * out again, as SQLite does. Like the real stores, a resend while the first
 * copy is in flight gets that copy, as a duplicate, when it commits.
 */
class SlowLog implements RoomLog {
  #inner: RoomLog;
  #inFlight = new Map<string, Promise<Appended>>();
  #held: HeldAppend[] = [];
  #followers = new Followers();

  constructor(inner: RoomLog) {
    this.#inner = inner;
  }

  append(draft: MessageDraft): Promise<Appended> {
    const key = dedupeKey(draft.from.id, draft.clientId);
    const inFlight = this.#inFlight.get(key);
    if (inFlight) return inFlight.then((a) => ({ ...a, duplicate: true }));
    const appended = new Promise<Appended>((resolve, reject) => {
      const held = { key, draft, resolve, reject };
      this.#held.push(held);
      // A copy committed earlier is answered without waiting for a commit,
      // as a durable store reads it at once (the memory log, given the
      // draft again, returns that copy as a duplicate and stores nothing).
      this.#inner.find(draft.from.id, draft.clientId).then((stored) => {
        const at = this.#held.indexOf(held);
        if (!stored || at < 0) return;
        this.#held.splice(at, 1);
        this.#commit([held]);
      });
    });
    this.#inFlight.set(key, appended);
    return appended;
  }

  /** Commits every append held so far, or with `ok` false fails them all. */
  release(ok = true): void {
    const held = this.#held.splice(0);
    if (ok) return this.#commit(held);
    for (const { key, reject } of held) {
      this.#inFlight.delete(key);
      reject(new Error("disk full"));
    }
  }

  #commit(held: HeldAppend[]): void {
    // The memory log stores each draft when called, in this order; the
    // appends settle together, then followers hear, as with SQLite.
    Promise.all(held.map((h) => this.#inner.append(h.draft))).then(
      (results) => {
        results.forEach((appended, i) => {
          const { key, resolve } = held[i]!;
          this.#inFlight.delete(key);
          resolve(appended);
        });
        for (const { epoch, message, duplicate } of results) {
          if (!duplicate) this.#followers.tell(epoch, [message]);
        }
      },
      (error: unknown) => {
        for (const { key, reject } of held) {
          this.#inFlight.delete(key);
          reject(error);
        }
      },
    );
  }

  async find(
    authorId: string,
    clientId: string,
  ): Promise<ChatMessage | undefined> {
    const inFlight = this.#inFlight.get(dedupeKey(authorId, clientId));
    if (inFlight) return (await inFlight).message;
    return this.#inner.find(authorId, clientId);
  }

  read(query: HistoryQuery): Promise<History> {
    return this.#inner.read(query);
  }

  clear(): Promise<string> {
    return this.#inner.clear();
  }

  readAfter(afterSeq: number, limit: number): Promise<ChatMessage[]> {
    return this.#inner.readAfter(afterSeq, limit);
  }

  readBefore(beforeSeq: number, limit: number): Promise<OlderPage> {
    return this.#inner.readBefore(beforeSeq, limit);
  }

  follow(follower: LogFollower): () => void {
    return this.#followers.add(follower);
  }
}

/** A memory store whose room logs are `SlowLog`s around its own. */
class SlowStore implements ChatStore {
  readonly inner = new MemoryStore({ newEpoch: () => "slow-epoch" });
  readonly logs = new Map<string, SlowLog>();

  openRoom(room: string): SlowLog {
    let log = this.logs.get(room);
    if (!log) {
      log = new SlowLog(this.inner.openRoom(room));
      this.logs.set(room, log);
    }
    return log;
  }
  releaseRoom(room: string): void {
    this.inner.releaseRoom(room);
  }
  sessionsInRoom(room: string): Promise<SessionRecord[]> {
    return this.inner.sessionsInRoom(room);
  }
  loadModeration(room: string): Promise<string | null> {
    return this.inner.loadModeration(room);
  }
  saveModeration(room: string, state: string | null): void {
    this.inner.saveModeration(room, state);
  }
  putSession(record: SessionRecord): void {
    this.inner.putSession(record);
  }
  deleteSession(room: string, tokenHash: string): void {
    this.inner.deleteSession(room, tokenHash);
  }
  claimName(claim: NameClaim): true {
    return this.inner.claimName(claim);
  }
  releaseName(room: string, userId: string, skeleton: string): void {
    this.inner.releaseName(room, userId, skeleton);
  }
  sessionsDurable(): Promise<void> {
    return this.inner.sessionsDurable();
  }
  health(): StoreHealth {
    return this.inner.health();
  }
  flush(): Promise<void> {
    return this.inner.flush();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** The last seq a room's log has committed. */
async function lastSeqOf(store: ChatStore, room = "main"): Promise<number> {
  return (await store.openRoom(room).read({ recent: 0 })).lastSeq;
}

const START = 1_700_000_000_000;

function setup(options: Partial<HubOptions> = {}) {
  let clock = START;
  let hexCounter = 0;
  let epochs = 0;
  let peers = 0;
  const store = options.store ??
    new MemoryStore({ newEpoch: () => `epoch-${++epochs}` });
  const hub = new Hub({
    store,
    fanout: new LocalFanout(),
    now: () => clock,
    randomHex: (bytes) =>
      (++hexCounter).toString(16).padStart(bytes * 2, "0").slice(-bytes * 2),
    random: seeded(42),
    ...options,
  });
  return {
    hub,
    store,
    get now() {
      return clock;
    },
    advance(ms: number) {
      clock += ms;
    },
    /** Connects a new peer without saying hello. */
    connect(): TestPeer {
      const peer = new TestPeer(`peer-${++peers}`);
      hub.connect(peer);
      return peer;
    },
    /** Connects a new peer and says hello; returns the peer and its welcome. */
    async join(
      hello: Partial<Extract<ClientMessage, { type: "hello" }>> = {},
    ): Promise<{ peer: TestPeer; welcome: WelcomeMessage }> {
      const peer = this.connect();
      await hub.receive(peer.id, { type: "hello", room: "main", ...hello });
      return { peer, welcome: peer.last("welcome") };
    },
    /** `count` joins, one after the other. */
    async joinMany(
      count: number,
    ): Promise<{ peer: TestPeer; welcome: WelcomeMessage }[]> {
      const joined = [];
      for (let i = 0; i < count; i++) joined.push(await this.join());
      return joined;
    },
    send(peer: TestPeer, id: string, text = `text of ${id}`): Promise<void> {
      return hub.receive(peer.id, { type: "send", id, text });
    },
  };
}

// ---------------------------------------------------------------------------
// Joining.
// ---------------------------------------------------------------------------

Deno.test("hello is answered with a welcome carrying identity, token, members and history", async () => {
  const t = setup({ typingTimeoutMs: 5_000 });
  const { peer, welcome } = await t.join({ room: "Main" });
  assert.equal(peer.frames[0]?.type, "welcome", "welcome comes first");
  assert.equal(welcome.protocol, PROTOCOL_VERSION);
  assert.equal(welcome.room, "main", "the room name is normalised");
  assert.equal(welcome.epoch, "epoch-1");
  assert.match(welcome.you.id, /^[0-9a-f]{16}$/);
  assert.match(welcome.you.name, /^\p{L}+ \d+$/u);
  assert.match(welcome.resumeToken, /^[0-9a-f]{64}$/);
  assert.notEqual(welcome.resumeToken, welcome.you.id);
  assert.equal(welcome.resumed, false);
  assert.equal(welcome.recovered, false);
  assert.deepEqual(welcome.history, []);
  assert.deepEqual(welcome.members, [welcome.you]);
  assert.equal(welcome.typingTimeoutMs, 5_000);
});

Deno.test("a later joiner's welcome lists everyone present and the history", async () => {
  const t = setup();
  const ana = await t.join();
  t.send(ana.peer, "m1", "hola");
  await settle();
  const bea = await t.join();
  assert.deepEqual(bea.welcome.members, [ana.welcome.you, bea.welcome.you]);
  assert.deepEqual(bea.welcome.history.map((m) => m.text), ["hola"]);
  assert.notEqual(bea.welcome.you.id, ana.welcome.you.id);
});

/** Every page of the member list after `welcome`, requested in turn. */
async function readMemberList(
  t: ReturnType<typeof setup>,
  peer: TestPeer,
  welcome: WelcomeMessage,
): Promise<{ members: Member[]; pages: number[] }> {
  const members = [...welcome.members];
  const pages: number[] = [];
  let more = welcome.moreMembers;
  let after = welcome.membersCursor ?? 0;
  while (more) {
    await t.hub.receive(peer.id, { type: "members", after });
    const page = peer.last("members");
    members.push(...page.members);
    pages.push(page.members.length);
    more = page.more;
    after = page.next ?? after;
  }
  return { members, pages };
}

Deno.test("joining a large room costs one frame: the first page, the count and a cursor; the rest on request", async () => {
  const t = setup();
  const present = (await t.joinMany(230)).map((j) => j.welcome.you);
  const { peer, welcome } = await t.join();
  const everyone = [...present, welcome.you];
  assert.equal(welcome.members.length, MEMBERS_PER_FRAME);
  assert.equal(welcome.moreMembers, true);
  assert.equal(welcome.online, 231);
  assert.deepEqual(
    peer.frames.map((f) => f.type),
    ["welcome", "joined"],
    "no list streamed to the joiner",
  );
  const { members, pages } = await readMemberList(t, peer, welcome);
  assert.deepEqual(pages, [MEMBERS_PER_PAGE, MEMBERS_PER_PAGE, 11]);
  assert.deepEqual(
    members,
    everyone,
    "everyone once, in the order they joined",
  );
  // A room that fits in the welcome needs no request.
  const small = await setup().join();
  assert.equal(small.welcome.moreMembers, false);
  assert.equal(small.welcome.online, 1);
});

Deno.test("member pages are made when asked: renames and leaves since the welcome show", async () => {
  const t = setup();
  const present = await t.joinMany(MEMBERS_PER_FRAME + 30);
  const { peer, welcome } = await t.join();
  const renamed = present[MEMBERS_PER_FRAME + 3]!;
  await t.hub.receive(renamed.peer.id, { type: "rename", name: "Zed" });
  const leaver = present[MEMBERS_PER_FRAME + 5]!;
  t.hub.disconnect(leaver.peer.id);
  t.advance(DEFAULTS.leaveGraceMs + 1);
  t.hub.sweep();
  const late = await t.join();
  const { members } = await readMemberList(t, peer, welcome);
  const ids = members.map((m) => m.id);
  assert.equal(new Set(ids).size, ids.length, "nobody twice");
  assert.ok(!ids.includes(leaver.welcome.you.id), "the leaver is gone");
  assert.ok(ids.includes(late.welcome.you.id), "a later joiner is listed");
  assert.equal(
    members.find((m) => m.id === renamed.welcome.you.id)?.name,
    "Zed",
  );
});

Deno.test("member pages need a hello and are rate limited", async () => {
  const t = setup();
  await t.joinMany(MEMBERS_PER_FRAME + 5);
  const stranger = t.connect();
  await t.hub.receive(stranger.id, { type: "members", after: 0 });
  assert.equal(stranger.last("error").code, "hello_required");
  const { peer } = await t.join();
  for (let i = 0; i < 25; i++) {
    await t.hub.receive(peer.id, { type: "members", after: 0 });
  }
  assert.equal(peer.all("members").length, 20, "the burst");
  assert.equal(peer.last("error").code, "rate_limited");
  assert.equal(peer.last("error").ref, "members");
});

Deno.test("a long history follows the welcome in history frames of bounded size, oldest first", async () => {
  const t = setup({ sendRate: { capacity: 1_000, refillPerSecond: 1_000 } });
  const ana = await t.join();
  for (let i = 1; i <= 60; i++) {
    t.send(ana.peer, `m${i}`, `${i} ${"x".repeat(300)}`);
  }
  await settle();
  const { peer, welcome } = await t.join();
  assert.equal(welcome.moreHistory, true);
  const frames = peer.all("history");
  assert.ok(frames.length >= 2);
  assert.deepEqual(frames.map((f) => f.more), [
    ...frames.slice(1).map(() => true),
    false,
  ]);
  const all = [...welcome.history, ...frames.flatMap((f) => f.messages)];
  assert.deepEqual(
    all.map((m) => m.seq),
    Array.from({ length: 60 }, (_, i) => i + 1),
  );
  // Every frame stays near the budget (one message can exceed it alone).
  for (const slice of [welcome.history, ...frames.map((f) => f.messages)]) {
    assert.ok(JSON.stringify(slice).length <= HISTORY_FRAME_CHARS + 2);
  }
  // The history frames come right after the welcome, before the join event.
  assert.deepEqual(
    peer.frames.slice(0, frames.length + 2).map((f) => f.type),
    ["welcome", ...frames.map(() => "history"), "joined"],
  );
  // A short history fits in the welcome.
  const short = await setup().join();
  assert.equal(short.welcome.moreHistory, false);
  assert.equal(short.peer.all("history").length, 0);
});

Deno.test("a join is published to the people already in the room", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  assert.deepEqual(
    ana.peer.all("joined").map((j) => j.member),
    [ana.welcome.you, bea.welcome.you],
  );
});

Deno.test("temporary names are unique in a room even with many joiners", async () => {
  const t = setup();
  const names = new Set<string>();
  const skeletons = new Set<string>();
  for (let i = 0; i < 300; i++) {
    const { welcome } = await t.join();
    names.add(welcome.you.name);
    skeletons.add(nameSkeleton(welcome.you.name));
  }
  assert.equal(names.size, 300);
  assert.equal(skeletons.size, 300);
});

Deno.test("temporary names stay unique when random always returns the same value", async () => {
  const t = setup({ random: () => 0.5 });
  const names = new Set<string>();
  for (let i = 0; i < 8; i++) names.add((await t.join()).welcome.you.name);
  assert.equal(names.size, 8);
});

Deno.test("a temporary name is never one a user already took by renaming", async () => {
  // random() = 0 always proposes "Alpaca 10" first.
  const t = setup({ random: () => 0 });
  const ana = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "ALPACA 10" });
  const bea = await t.join();
  const cai = await t.join();
  assert.notEqual(
    nameSkeleton(bea.welcome.you.name),
    nameSkeleton("Alpaca 10"),
  );
  assert.notEqual(bea.welcome.you.name, cai.welcome.you.name);
});

Deno.test("a second hello on the same connection is refused as already_joined", async () => {
  const t = setup();
  const ana = await t.join();
  await t.hub.receive(ana.peer.id, { type: "hello", room: "other" });
  const error = ana.peer.last("error");
  assert.equal(error.code, "already_joined");
  assert.equal(error.ref, "hello");
  assert.equal(ana.peer.all("welcome").length, 1);
});

Deno.test("a hello for an invalid room is refused as room_invalid", async () => {
  const t = setup();
  const peer = t.connect();
  await t.hub.receive(peer.id, { type: "hello", room: "../etc" });
  assert.equal(peer.last("error").code, "room_invalid");
  assert.equal(peer.all("welcome").length, 0);
});

Deno.test("messages sent right after hello wait for the welcome and are handled in order", async () => {
  const t = setup();
  const ana = await t.join();
  const peer = t.connect();
  // Not awaited one by one: a client sends as soon as its socket opens.
  await Promise.all([
    t.hub.receive(peer.id, { type: "hello", room: "main" }),
    t.hub.receive(peer.id, { type: "send", id: "m1", text: "hola" }),
    t.hub.receive(peer.id, { type: "rename", name: "Bea" }),
  ]);
  await settle();
  assert.deepEqual(peer.all("error"), []);
  assert.equal(peer.frames[0]?.type, "welcome");
  const you = peer.last("welcome").you;
  assert.deepEqual(peer.all("ack").map((a) => [a.id, a.seq]), [["m1", 1]]);
  assert.deepEqual(ana.peer.all("chat").map((c) => c.message.from), [you]);
  assert.deepEqual(ana.peer.all("renamed").map((r) => [r.id, r.to]), [
    [you.id, "Bea"],
  ]);
});

// ---------------------------------------------------------------------------
// Sending.
// ---------------------------------------------------------------------------

Deno.test("send is acked to the author and broadcast as chat with seq 1, 2, 3", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "a1", "uno");
  t.advance(5);
  t.send(ana.peer, "a2", "dos");
  t.send(bea.peer, "b1", "tres");
  await settle();
  assert.deepEqual(ana.peer.all("ack"), [
    { type: "ack", id: "a1", seq: 1, time: START },
    { type: "ack", id: "a2", seq: 2, time: START + 5 },
  ]);
  assert.deepEqual(bea.peer.all("ack"), [
    { type: "ack", id: "b1", seq: 3, time: START + 5 },
  ]);
  for (const peer of [ana.peer, bea.peer]) {
    assert.deepEqual(
      peer.all("chat").map((c) => c.message),
      [
        {
          seq: 1,
          time: START,
          from: ana.welcome.you,
          clientId: "a1",
          text: "uno",
        },
        {
          seq: 2,
          time: START + 5,
          from: ana.welcome.you,
          clientId: "a2",
          text: "dos",
        },
        {
          seq: 3,
          time: START + 5,
          from: bea.welcome.you,
          clientId: "b1",
          text: "tres",
        },
      ],
    );
  }
  assert.equal(await lastSeqOf(t.store), 3);
});

Deno.test("a client id resent after it was stored is acked with the same seq and broadcast once", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1", "hola");
  await settle();
  t.advance(1_000);
  t.send(ana.peer, "m1", "hola");
  await settle();
  assert.deepEqual(ana.peer.all("ack"), [
    { type: "ack", id: "m1", seq: 1, time: START },
    { type: "ack", id: "m1", seq: 1, time: START },
  ]);
  assert.equal(bea.peer.all("chat").length, 1);
  assert.equal(await lastSeqOf(t.store), 1);
});

Deno.test("a client id resent while the first copy is in flight is stored and broadcast once", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1", "hola");
  t.send(ana.peer, "m1", "hola");
  await settle();
  assert.deepEqual(
    ana.peer.all("ack").map((a) => a.seq),
    [1, 1],
  );
  assert.equal(bea.peer.all("chat").length, 1);
  assert.equal(await lastSeqOf(t.store), 1);
});

Deno.test("with a durable store, a send is acked and broadcast only once committed", async () => {
  const store = new SlowStore();
  const t = setup({ store });
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1", "hola");
  await settle();
  assert.equal(ana.peer.all("ack").length, 0);
  assert.equal(bea.peer.all("chat").length, 0);
  store.openRoom("main").release();
  await settle();
  assert.deepEqual(ana.peer.all("ack").map((a) => a.seq), [1]);
  assert.deepEqual(bea.peer.all("chat").map((c) => c.message.seq), [1]);
});

Deno.test("a client id resent before the first copy is committed is stored and broadcast once", async () => {
  const store = new SlowStore();
  const t = setup({ store });
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1", "hola");
  await settle();
  t.send(ana.peer, "m1", "hola");
  t.send(ana.peer, "m1", "hola");
  store.openRoom("main").release();
  await settle();
  assert.deepEqual(ana.peer.all("ack").map((a) => a.seq), [1, 1, 1]);
  assert.equal(bea.peer.all("chat").length, 1);
  assert.equal(await lastSeqOf(store), 1);
});

Deno.test("a send the store fails to commit gets server_error and is not broadcast", async () => {
  const store = new SlowStore();
  const t = setup({ store, sendRate: { capacity: 1, refillPerSecond: 0.001 } });
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1", "hola");
  store.openRoom("main").release(false);
  await settle();
  assert.deepEqual(
    ana.peer.all("error").map((e) => [e.code, e.ref]),
    [["server_error", "m1"]],
  );
  assert.equal(ana.peer.all("ack").length, 0);
  assert.equal(bea.peer.all("chat").length, 0);
  // Nothing was stored and the send cost nothing: sent again (the only
  // token was given back), it is committed under the seq the failed commit
  // had handed out, and broadcast once.
  t.send(ana.peer, "m1", "hola");
  await settle();
  store.openRoom("main").release();
  await settle();
  assert.equal(ana.peer.all("error").length, 1);
  assert.deepEqual(ana.peer.all("ack").map((a) => a.seq), [1]);
  assert.deepEqual(bea.peer.all("chat").map((c) => c.message.seq), [1]);
});

Deno.test("the same client id from two different users is two messages", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.send(ana.peer, "m1");
  t.send(bea.peer, "m1");
  await settle();
  assert.deepEqual(ana.peer.all("chat").map((c) => c.message.seq), [1, 2]);
});

Deno.test("messages before hello are refused as hello_required", async () => {
  const t = setup();
  const peer = t.connect();
  const messages: [ClientMessage, string][] = [
    [{ type: "send", id: "m1", text: "hola" }, "m1"],
    [{ type: "rename", name: "Ana" }, "rename"],
    [{ type: "typing" }, "typing"],
  ];
  for (const [message] of messages) await t.hub.receive(peer.id, message);
  await settle();
  assert.deepEqual(
    peer.frames.map((f) => f.type === "error" ? [f.code, f.ref] : f.type),
    messages.map(([, ref]) => ["hello_required", ref]),
  );
  assert.equal(await lastSeqOf(t.store), 0);
  assert.equal(peer.closes.length, 0);
});

// ---------------------------------------------------------------------------
// Rename and typing.
// ---------------------------------------------------------------------------

Deno.test("rename is announced to everyone with the old and new name", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "  Ana   María " });
  const expected = {
    type: "renamed",
    id: ana.welcome.you.id,
    from: ana.welcome.you.name,
    to: "Ana María",
  };
  assert.deepEqual(ana.peer.all("renamed"), [expected]);
  assert.deepEqual(bea.peer.all("renamed"), [expected]);
  const cai = await t.join();
  assert.ok(
    cai.welcome.members.some((m) =>
      m.id === ana.welcome.you.id && m.name === "Ana María"
    ),
  );
});

Deno.test("rename refuses a name another user holds, including look-alikes", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  // First Ana's temporary name, then look-alikes of the name she picks.
  const attempts = [ana.welcome.you.name, "Ana", "ana", "ＡＮＡ", "\u0410na"];
  await t.hub.receive(bea.peer.id, { type: "rename", name: attempts[0] ?? "" });
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  for (const name of attempts.slice(1)) {
    await t.hub.receive(bea.peer.id, { type: "rename", name });
  }
  assert.deepEqual(
    bea.peer.all("error").map((e) => [e.code, e.ref]),
    attempts.map(() => ["name_taken", "rename"]),
  );
  assert.deepEqual(bea.peer.all("renamed").map((r) => r.to), ["Ana"]);
});

Deno.test("rename refusals carry stable codes and announce nothing", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  const cases: [string, string][] = [
    ["", "name_empty"],
    ["a".repeat(33), "name_too_long"],
    ["<img src=x>", "name_invalid"],
    ["Ana\u202E", "name_invalid"],
    ["Admin", "name_reserved"],
    ["moderadora", "name_reserved"],
  ];
  for (const [name] of cases) {
    await t.hub.receive(ana.peer.id, { type: "rename", name });
  }
  assert.deepEqual(
    ana.peer.all("error").map((e) => [e.code, e.ref]),
    cases.map(([, code]) => [code, "rename"]),
  );
  assert.equal(bea.peer.all("renamed").length, 0);
  assert.equal(bea.peer.all("error").length, 0);
});

const UNLIMITED = { capacity: 1e9, refillPerSecond: 1e9 };

Deno.test("a user may rename to a different spelling of their own name", async () => {
  const t = setup({ renameRate: UNLIMITED });
  const ana = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  await t.hub.receive(ana.peer.id, { type: "rename", name: "ANA" });
  assert.deepEqual(ana.peer.all("renamed").map((r) => r.to), ["Ana", "ANA"]);
  assert.equal(ana.peer.all("error").length, 0);
});

Deno.test("a name given up by renaming is free for someone else", async () => {
  const t = setup({ renameRate: UNLIMITED });
  const ana = await t.join();
  const bea = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana María" });
  await t.hub.receive(bea.peer.id, { type: "rename", name: "Ana" });
  assert.equal(bea.peer.all("error").length, 0);
  assert.equal(bea.peer.last("renamed").to, "Ana");
});

Deno.test("typing notices are throttled per user", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  await t.hub.receive(ana.peer.id, { type: "typing" });
  t.advance(DEFAULTS.typingThrottleMs - 1);
  await t.hub.receive(ana.peer.id, { type: "typing" });
  assert.deepEqual(bea.peer.all("typing"), [
    { type: "typing", member: ana.welcome.you },
  ]);
  t.advance(1);
  await t.hub.receive(ana.peer.id, { type: "typing" });
  assert.equal(bea.peer.all("typing").length, 2);
  // Another user's throttle is independent.
  await t.hub.receive(bea.peer.id, { type: "typing" });
  assert.equal(ana.peer.all("typing").length, 3);
});

// ---------------------------------------------------------------------------
// Disconnect, sweep and the resume window.
// ---------------------------------------------------------------------------

Deno.test("a leave is announced exactly once, only after the grace period", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.hub.disconnect(bea.peer.id);
  t.hub.sweep();
  t.advance(DEFAULTS.leaveGraceMs - 1);
  t.hub.sweep();
  assert.equal(ana.peer.all("left").length, 0);
  t.advance(1);
  t.hub.sweep();
  t.advance(1_000);
  t.hub.sweep();
  assert.deepEqual(ana.peer.all("left"), [
    { type: "left", member: bea.welcome.you },
  ]);
});

Deno.test("a left member is no longer listed to new joiners", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.hub.disconnect(bea.peer.id);
  t.advance(DEFAULTS.leaveGraceMs);
  t.hub.sweep();
  const cai = await t.join();
  assert.deepEqual(cai.welcome.members, [ana.welcome.you, cai.welcome.you]);
});

Deno.test("disconnect called twice is harmless and still gives exactly one leave", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.hub.disconnect(bea.peer.id);
  t.advance(DEFAULTS.leaveGraceMs / 2);
  // A second report must not restart the grace period.
  t.hub.disconnect(bea.peer.id);
  t.advance(DEFAULTS.leaveGraceMs / 2);
  t.hub.sweep();
  t.hub.disconnect(bea.peer.id);
  t.advance(DEFAULTS.resumeWindowMs);
  t.hub.sweep();
  assert.equal(ana.peer.all("left").length, 1);
  assert.deepEqual(t.hub.stats(), { rooms: 1, connections: 1 });
});

Deno.test("a dropped user's name stays reserved for the resume window and is freed after it", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.leaveGraceMs);
  t.hub.sweep();
  assert.equal(bea.peer.all("left").length, 1, "the leave was announced");

  await t.hub.receive(bea.peer.id, { type: "rename", name: "Ana" });
  assert.equal(bea.peer.last("error").code, "name_taken");

  t.advance(DEFAULTS.resumeWindowMs - DEFAULTS.leaveGraceMs - 1);
  t.hub.sweep();
  await t.hub.receive(bea.peer.id, { type: "rename", name: "ana" });
  assert.equal(bea.peer.all("error").length, 2, "still reserved 1 ms before");

  t.advance(1);
  t.hub.sweep();
  await t.hub.receive(bea.peer.id, { type: "rename", name: "Ana" });
  assert.equal(bea.peer.all("error").length, 2);
  assert.equal(bea.peer.last("renamed").to, "Ana");
});

Deno.test("resume within the window keeps id and name, rotates the token and announces nothing", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.leaveGraceMs - 1);
  t.hub.sweep();
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(again.welcome.resumed, true);
  assert.deepEqual(again.welcome.you, { id: ana.welcome.you.id, name: "Ana" });
  assert.notEqual(again.welcome.resumeToken, ana.welcome.resumeToken);
  assert.deepEqual(again.welcome.members, [
    { id: ana.welcome.you.id, name: "Ana" },
    bea.welcome.you,
  ]);
  t.advance(DEFAULTS.leaveGraceMs);
  t.hub.sweep();
  assert.equal(bea.peer.all("left").length, 0);
  assert.equal(bea.peer.all("joined").length, 1, "only her own join");

  // Once the new token has been used, the first one is spent: it gives a
  // fresh identity, not Ana's.
  t.hub.disconnect(again.peer.id);
  const third = await t.join({ resumeToken: again.welcome.resumeToken });
  assert.equal(third.welcome.resumed, true);
  const thief = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(thief.welcome.resumed, false);
  assert.notEqual(thief.welcome.you.id, ana.welcome.you.id);
  assert.notEqual(thief.welcome.you.name, "Ana");
});

Deno.test("resume after the leave was announced announces a join again", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join();
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.leaveGraceMs);
  t.hub.sweep();
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(again.welcome.resumed, true);
  assert.deepEqual(bea.peer.all("left").map((l) => l.member), [
    ana.welcome.you,
  ]);
  assert.deepEqual(bea.peer.all("joined").at(-1)?.member, ana.welcome.you);
});

Deno.test("resume after the window expired gives a fresh identity", async () => {
  const t = setup();
  const ana = await t.join();
  await t.join();
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.resumeWindowMs);
  t.hub.sweep();
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(again.welcome.resumed, false);
  assert.notEqual(again.welcome.you.id, ana.welcome.you.id);
});

Deno.test("resuming a live session on a new connection closes the old one with 4001", async () => {
  const t = setup();
  const ana = await t.join();
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(again.welcome.resumed, true);
  assert.deepEqual(ana.peer.closes, [
    { code: CLOSE_CODES.replaced, reason: "Session resumed elsewhere" },
  ]);
  // The old socket's late close must not detach the new one.
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.resumeWindowMs);
  t.hub.sweep();
  t.send(again.peer, "m1");
  return settle().then(() => {
    assert.equal(again.peer.all("ack").length, 1);
  });
});

/** Ana joins and sees `seen` messages, drops, then Bea sends `missed` more. */
async function dropAndMiss(
  t: ReturnType<typeof setup>,
  seen: number,
  missed: number,
) {
  const ana = await t.join();
  const bea = await t.join();
  for (let i = 1; i <= seen; i++) t.send(ana.peer, `a${i}`);
  await settle();
  t.hub.disconnect(ana.peer.id);
  for (let i = 1; i <= missed; i++) t.send(bea.peer, `b${i}`);
  await settle();
  return { ana, bea };
}

Deno.test("resume with lastSeq replays exactly the missed messages", async () => {
  const t = setup();
  const { ana } = await dropAndMiss(t, 2, 3);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 2,
  });
  assert.equal(again.welcome.resumed, true);
  assert.equal(again.welcome.recovered, true);
  assert.deepEqual(again.welcome.history.map((m) => m.seq), [3, 4, 5]);
  assert.deepEqual(
    again.welcome.history.map((m) => m.clientId),
    ["b1", "b2", "b3"],
  );
});

Deno.test("resume with nothing missed is recovered with an empty history", async () => {
  const t = setup();
  const { ana } = await dropAndMiss(t, 2, 0);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 2,
  });
  assert.equal(again.welcome.recovered, true);
  assert.deepEqual(again.welcome.history, []);
});

Deno.test("resume with a different epoch is not recovered and gets recent history", async () => {
  const t = setup();
  const { ana } = await dropAndMiss(t, 2, 3);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: "some-other-epoch",
    lastSeq: 2,
  });
  assert.equal(again.welcome.resumed, true);
  assert.equal(again.welcome.recovered, false);
  assert.deepEqual(again.welcome.history.map((m) => m.seq), [1, 2, 3, 4, 5]);
});

Deno.test("resume with a lastSeq beyond the history is not recovered", async () => {
  const t = setup();
  const { ana } = await dropAndMiss(t, 1, 1);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 99,
  });
  assert.equal(again.welcome.recovered, false);
  assert.deepEqual(again.welcome.history.map((m) => m.seq), [1, 2]);
});

Deno.test("a replay larger than maxReplay is not recovered and gets recent history", async () => {
  const t = setup({ maxReplay: 2 });
  const { ana } = await dropAndMiss(t, 1, 3);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 1,
  });
  assert.equal(again.welcome.resumed, true);
  assert.equal(again.welcome.recovered, false);
  assert.deepEqual(again.welcome.history.map((m) => m.seq), [1, 2, 3, 4]);
});

Deno.test("a replay of exactly maxReplay messages is recovered", async () => {
  const t = setup({ maxReplay: 2 });
  const { ana } = await dropAndMiss(t, 1, 2);
  const again = await t.join({
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 1,
  });
  assert.equal(again.welcome.recovered, true);
  assert.deepEqual(again.welcome.history.map((m) => m.seq), [2, 3]);
});

Deno.test("a resent client id after resume is acked with the original seq", async () => {
  const t = setup();
  const ana = await t.join();
  t.send(ana.peer, "m1");
  await settle();
  t.hub.disconnect(ana.peer.id);
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  t.send(again.peer, "m1");
  await settle();
  assert.deepEqual(again.peer.all("ack").map((a) => a.seq), [1]);
  assert.equal(await lastSeqOf(t.store), 1);
});

// ---------------------------------------------------------------------------
// Timeouts and shutdown.
// ---------------------------------------------------------------------------

Deno.test("a connection that never says hello is closed with 4000 after the hello timeout", async () => {
  const t = setup();
  const silent = t.connect();
  const ana = await t.join();
  t.advance(DEFAULTS.helloTimeoutMs - 1);
  t.hub.sweep();
  assert.deepEqual(silent.closes, []);
  t.advance(1);
  t.hub.sweep();
  assert.deepEqual(silent.closes, [
    { code: CLOSE_CODES.helloTimeout, reason: "No hello received" },
  ]);
  assert.deepEqual(ana.peer.closes, []);
  assert.equal(t.hub.stats().connections, 1);
  t.hub.sweep();
  assert.equal(silent.closes.length, 1, "closed once");
});

Deno.test("while the event loop runs late (a join storm), a missing hello is not held against the connection", () => {
  const t = setup();
  const queued = t.connect();
  t.advance(DEFAULTS.helloTimeoutMs - 2_000);
  // The sweep timer fired 3 s late: hellos may be waiting their turn.
  t.hub.runningLate(3_000);
  t.advance(2_000);
  t.hub.sweep();
  assert.deepEqual(queued.closes, [], "not closed while the loop caught up");
  t.hub.runningLate(100); // on time (under the threshold): nothing changes
  t.advance(DEFAULTS.helloTimeoutMs - 2_000);
  t.hub.sweep();
  assert.deepEqual(queued.closes, [
    { code: CLOSE_CODES.helloTimeout, reason: "No hello received" },
  ], "closed a whole timeout after the loop was last late");
});

Deno.test("closeAll closes every peer with the given code and reason", async () => {
  const t = setup();
  const ana = await t.join();
  const bea = await t.join({ room: "otra" });
  const silent = t.connect();
  t.hub.closeAll(CLOSE_CODES.goingAway, "Server restarting");
  for (const peer of [ana.peer, bea.peer, silent]) {
    assert.deepEqual(peer.closes, [
      { code: CLOSE_CODES.goingAway, reason: "Server restarting" },
    ], peer.id);
  }
  assert.equal(t.hub.stats().connections, 0);
  // Sessions survive a shutdown so clients can resume.
  const again = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(again.welcome.resumed, true);
});

Deno.test("an idle room is dropped once its last session expires", async () => {
  const t = setup();
  const ana = await t.join({ room: "otra" });
  t.hub.disconnect(ana.peer.id);
  t.advance(DEFAULTS.resumeWindowMs);
  t.hub.sweep();
  assert.deepEqual(t.hub.stats(), { rooms: 0, connections: 0 });
});

Deno.test("sends beyond the burst are refused with rate_limited and when to retry", async () => {
  const t = setup({ sendRate: { capacity: 3, refillPerSecond: 1 } });
  const ana = await t.join();
  for (let i = 1; i <= 4; i++) {
    await t.hub.receive(ana.peer.id, { type: "send", id: `m${i}`, text: "hi" });
  }
  const error = ana.peer.last("error");
  assert.equal(error.code, "rate_limited");
  assert.equal(error.ref, "m4");
  assert.equal(error.retryAfterMs, 1000);
  t.advance(1000);
  await t.hub.receive(ana.peer.id, { type: "send", id: "m4", text: "hi" });
  assert.equal(ana.peer.all("error").length, 1, "a token refilled after 1 s");
});

Deno.test("a resend of a stored message is not charged against the rate limit", async () => {
  const t = setup({ sendRate: { capacity: 2, refillPerSecond: 0.001 } });
  const ana = await t.join();
  const send = async (id: string) => {
    await t.hub.receive(ana.peer.id, { type: "send", id, text: "hi" });
    await settle();
  };
  await send("once");
  // With a token left, a resend takes it and gets it back when the store
  // says duplicate, so a new message still finds it…
  for (let i = 0; i < 5; i++) await send("once");
  await send("next");
  // …and with none left, a resend is still acked (the store finds it).
  for (let i = 0; i < 5; i++) await send("once");
  assert.equal(ana.peer.all("error").length, 0);
  assert.deepEqual(ana.peer.all("ack").map((a) => [a.id, a.seq]), [
    ...Array.from({ length: 6 }, () => ["once", 1]),
    ["next", 2],
    ...Array.from({ length: 5 }, () => ["once", 1]),
  ]);
});

Deno.test("a second rename within ten seconds is refused with rate_limited", async () => {
  const t = setup();
  const ana = await t.join();
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana B" });
  const error = ana.peer.last("error");
  assert.equal(error.code, "rate_limited");
  assert.equal(error.ref, "rename");
  t.advance(10_000);
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana B" });
  assert.equal(ana.peer.last("renamed").to, "Ana B");
});

Deno.test("a connection refused many times past the limit is closed with 1008", async () => {
  const t = setup({
    sendRate: { capacity: 1, refillPerSecond: 0.001 },
    abuseRate: { capacity: 5, refillPerSecond: 0.001 },
  });
  const ana = await t.join();
  const bea = await t.join();
  for (let i = 0; i < 10; i++) {
    await t.hub.receive(ana.peer.id, {
      type: "send",
      id: `s${i}`,
      text: "spam",
    });
  }
  assert.deepEqual(ana.peer.closes.map((c) => c.code), [1008]);
  assert.deepEqual(bea.peer.closes, [], "others unaffected");
});

Deno.test("a client whose welcome was lost can resume with the token it still has", async () => {
  const t = setup();
  const ana = await t.join();
  t.hub.disconnect(ana.peer.id);
  // The resume succeeds on the server, but its welcome never arrives.
  const lost = await t.join({ resumeToken: ana.welcome.resumeToken });
  t.hub.disconnect(lost.peer.id);
  const retry = await t.join({ resumeToken: ana.welcome.resumeToken });
  assert.equal(retry.welcome.resumed, true);
  assert.equal(retry.welcome.you.id, ana.welcome.you.id);
});

// ---------------------------------------------------------------------------
// Nothing announced that was not stored.
// ---------------------------------------------------------------------------

/** A memory store whose session writes can be made to fail, like a full disk. */
class UnwritableSessionsStore extends MemoryStore {
  failing = false;
  override sessionsDurable(): Promise<void> {
    return this.failing
      ? Promise.reject(new StoreUnavailableError("disk full"))
      : super.sessionsDurable();
  }
}

Deno.test("a rename that cannot be stored is refused, not announced, and the old name stays", async () => {
  const store = new UnwritableSessionsStore();
  const t = setup({ store });
  const ana = await t.join();
  const bea = await t.join();
  const before = ana.welcome.you.name;
  store.failing = true;
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  const error = ana.peer.last("error");
  assert.equal(error.code, "store_unavailable");
  assert.equal(error.ref, "rename");
  assert.ok(error.retryAfterMs! > 0);
  assert.equal(bea.peer.all("renamed").length, 0);
  // The name is still free (not held by the refused rename), and the
  // rate limit was not charged: the retry goes through once stored.
  store.failing = false;
  await t.hub.receive(ana.peer.id, { type: "rename", name: "Ana" });
  const renamed = bea.peer.last("renamed");
  assert.deepEqual([renamed.from, renamed.to], [before, "Ana"]);
});

Deno.test("a join whose token cannot be stored gets no welcome and is not announced", async () => {
  const store = new UnwritableSessionsStore();
  const t = setup({ store });
  const ana = await t.join();
  store.failing = true;
  const bea = t.connect();
  await t.hub.receive(bea.id, { type: "hello", room: "main" });
  assert.equal(bea.all("welcome").length, 0);
  const error = bea.last("error");
  assert.equal(error.code, "store_unavailable");
  assert.equal(error.ref, "hello");
  assert.deepEqual(bea.closes.map((c) => c.code), [1001]);
  store.failing = false;
  // Nobody was announced, and the next join is welcomed normally.
  const cid = await t.join();
  assert.deepEqual(
    ana.peer.all("joined").map((j) => j.member.name).filter((name) =>
      name !== ana.welcome.you.name
    ),
    [cid.welcome.you.name],
  );
  assert.equal(cid.welcome.members.length, 2);
});

// ---------------------------------------------------------------------------
// Scrolling back.
// ---------------------------------------------------------------------------

Deno.test("older pages walk the history back to its start, and are rate limited", async () => {
  const t = setup({ sendRate: { capacity: 1_000, refillPerSecond: 1_000 } });
  const ana = await t.join();
  for (let i = 1; i <= 120; i++) await t.send(ana.peer, `m${i}`);
  await settle();
  const { peer } = await t.join();
  const seen: number[] = [];
  let before = 121;
  for (let i = 0; i < 5; i++) {
    await t.hub.receive(peer.id, { type: "older", before });
    const page = peer.last("older");
    assert.equal(page.before, before);
    seen.unshift(...page.messages.map((m) => m.seq));
    if (page.start) break;
    before = page.messages[0]!.seq;
  }
  assert.deepEqual(seen, Array.from({ length: 120 }, (_, i) => i + 1));
  assert.equal(peer.last("older").start, true);
  assert.equal(peer.all("older").length, 3, "pages of 50");
  for (let i = 0; i < 25; i++) {
    await t.hub.receive(peer.id, { type: "older", before: 50 });
  }
  assert.equal(peer.last("error").code, "rate_limited");
  assert.equal(peer.last("error").ref, "older");
});
