/**
 * The chat core as several instances: hubs that share one store and one
 * fan-out in-process (what Redis is between processes), with plain-object
 * peers, an injected clock and a scripted view of which instances are up.
 * No sockets, no timers.
 */

import assert from "node:assert/strict";
import {
  CLOSE_CODES,
  parseServerMessage,
  type ServerMessage,
} from "../../protocol/messages.ts";
import {
  type EventSubscriber,
  type Fanout,
  LocalFanout,
  type RoomEvent,
} from "../fanout/fanout.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { type ClusterView, DEFAULTS, Hub } from "./hub.ts";
import type { Peer } from "./peer.ts";

type Of<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

class TestPeer implements Peer {
  readonly id: string;
  readonly frames: ServerMessage[] = [];
  readonly closes: number[] = [];
  static #next = 0;

  constructor() {
    this.id = `peer-${++TestPeer.#next}`;
  }

  send(frame: string): void {
    const message = parseServerMessage(frame);
    if (!message) throw new Error(`Malformed server frame: ${frame}`);
    this.frames.push(message);
  }

  stream(frames: Iterator<string>): void {
    for (let next = frames.next(); !next.done; next = frames.next()) {
      this.send(next.value);
    }
  }

  close(code: number): void {
    this.closes.push(code);
  }

  all<T extends ServerMessage["type"]>(type: T): Of<T>[] {
    return this.frames.filter((m): m is Of<T> => m.type === type);
  }
}

/** Which instances are up, and who won each adoption. */
class FakeCluster implements ClusterView {
  readonly down = new Set<string>();
  readonly adopted = new Map<string, string>();
  readonly asking: string;

  constructor(asking: string, shared: FakeCluster | null = null) {
    this.asking = asking;
    if (shared) {
      this.down = shared.down;
      this.adopted = shared.adopted;
    }
  }

  alive(instance: string): boolean {
    return !this.down.has(instance);
  }

  adopt(room: string, userId: string, dead: string): Promise<boolean> {
    const key = `${room}/${userId}/${dead}`;
    if (this.adopted.has(key)) return Promise.resolve(false);
    this.adopted.set(key, this.asking);
    return Promise.resolve(true);
  }
}

/**
 * One instance's way to the shared fan-out; cutting it is what a killed
 * instance looks like to the others: it says nothing and hears nothing.
 */
class InstanceFanout implements Fanout {
  cut = false;
  #shared: LocalFanout;

  constructor(shared: LocalFanout) {
    this.#shared = shared;
  }

  publish(room: string, event: RoomEvent): void {
    if (!this.cut) this.#shared.publish(room, event);
  }

  subscribe(room: string, subscriber: EventSubscriber): () => void {
    return this.#shared.subscribe(room, (event) => {
      if (!this.cut) subscriber(event);
    });
  }
}

function cluster(instances: string[]) {
  let now = 1_000_000;
  const store = new MemoryStore();
  const shared = new LocalFanout();
  const fanouts = instances.map(() => new InstanceFanout(shared));
  const first = new FakeCluster(instances[0] ?? "");
  const hubs = instances.map((instance, i) =>
    new Hub({
      store,
      fanout: fanouts[i]!,
      instance,
      cluster: i === 0 ? first : new FakeCluster(instance, first),
      now: () => now,
    })
  );
  return {
    hubs,
    views: first,
    /** Cuts (or restores) one instance's events, without it being gone. */
    deafen(i: number, cut: boolean) {
      fanouts[i]!.cut = cut;
    },
    /** The instance stops, as with kill -9: silent, and seen as gone. */
    kill(i: number) {
      fanouts[i]!.cut = true;
      first.down.add(instances[i] ?? "");
    },
    advance(ms: number) {
      now += ms;
    },
  };
}

async function join(
  hub: Hub,
  hello: Record<string, unknown> = {},
): Promise<{ peer: TestPeer; welcome: Of<"welcome"> }> {
  const peer = new TestPeer();
  hub.connect(peer);
  await hub.receive(peer.id, { type: "hello", room: "main", ...hello });
  const welcome = peer.all("welcome").at(-1);
  assert.ok(welcome, "a welcome");
  return { peer, welcome };
}

/** Lets stored messages reach their followers (microtasks only). */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function lefts(peer: TestPeer): string[] {
  return peer.frames.flatMap((m) =>
    m.type === "left"
      ? [m.member.id]
      : m.type === "presence"
      ? m.left.map((l) => l.id)
      : []
  );
}

Deno.test("a member of one instance is listed in another's welcome, and messages reach both", async () => {
  const { hubs: [one, two] } = cluster(["one", "two"]);
  const ana = await join(one!);
  const bea = await join(two!);
  assert.deepEqual(
    bea.welcome.members.map((m) => m.id),
    [ana.welcome.you.id, bea.welcome.you.id],
  );
  assert.deepEqual(ana.peer.all("joined").map((j) => j.member.id), [
    ana.welcome.you.id,
    bea.welcome.you.id,
  ]);
  await one!.receive(ana.peer.id, { type: "send", id: "a1", text: "hola" });
  await two!.receive(bea.peer.id, { type: "send", id: "b1", text: "hi" });
  await settle();
  for (const { peer } of [ana, bea]) {
    assert.deepEqual(
      peer.all("chat").map((c) => [c.message.seq, c.message.clientId]),
      [[1, "a1"], [2, "b1"]],
    );
  }
});

Deno.test("a name held on one instance is taken on another", async () => {
  const { hubs: [one, two] } = cluster(["one", "two"]);
  const ana = await join(one!);
  const bea = await join(two!);
  await one!.receive(ana.peer.id, { type: "rename", name: "Ana" });
  await two!.receive(bea.peer.id, { type: "rename", name: "ANA" });
  assert.equal(bea.peer.all("error").at(-1)?.code, "name_taken");
  assert.deepEqual(bea.peer.all("renamed").map((r) => r.to), ["Ana"]);
});

Deno.test("a session resumes on another instance with its identity; the old connection is closed as replaced", async () => {
  const { hubs: [one, two] } = cluster(["one", "two"]);
  const ana = await join(one!);
  const bea = await join(two!);
  const again = await join(two!, {
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 0,
  });
  assert.equal(again.welcome.resumed, true);
  assert.equal(again.welcome.recovered, true);
  assert.deepEqual(again.welcome.you, ana.welcome.you);
  assert.deepEqual(ana.peer.closes, [CLOSE_CODES.replaced]);
  // Nobody saw Ana leave or join again.
  assert.deepEqual(lefts(bea.peer), []);
  assert.equal(
    bea.peer.all("joined").filter((j) => j.member.id === ana.welcome.you.id)
      .length,
    0,
  );
});

Deno.test("when an instance dies, one survivor announces its members' leave once, after the grace; a member who resumed elsewhere is not announced", async () => {
  const { hubs: [one, two, three], views, advance, kill } = cluster([
    "one",
    "two",
    "three",
  ]);
  const watcher2 = await join(two!);
  const watcher3 = await join(three!);
  const gone = await join(one!);
  const back = await join(one!);
  // Instance one dies (its connections vanish with it, unannounced); the
  // survivors learn it from its heartbeat.
  kill(0);
  await join(three!, {
    resumeToken: back.welcome.resumeToken,
    epoch: back.welcome.epoch,
    lastSeq: 0,
  });
  for (const hub of [two!, three!]) hub.sweep();
  await settle();
  assert.equal(views.adopted.size, 1, "one session to adopt");
  advance(DEFAULTS.leaveGraceMs - 1_000);
  for (const hub of [two!, three!]) hub.sweep();
  assert.deepEqual(lefts(watcher2.peer), [], "not before the grace");
  advance(2_000);
  for (let i = 0; i < 3; i++) {
    for (const hub of [two!, three!]) hub.sweep();
    advance(1_000);
  }
  await settle();
  for (const { peer } of [watcher2, watcher3]) {
    assert.deepEqual(lefts(peer), [gone.welcome.you.id], "exactly one left");
  }
});

Deno.test("a session taken for gone by another instance while still connected is claimed back, and no leave is announced", async () => {
  const { hubs: [one, two], views, advance } = cluster(["one", "two"]);
  const watcher = await join(two!);
  const ana = await join(one!);
  // Instance two cannot see one's heartbeat for a while (one is fine).
  views.down.add("one");
  two!.sweep();
  await settle();
  views.down.delete("one");
  for (let i = 0; i < 15; i++) {
    advance(1_000);
    two!.sweep();
    one!.sweep();
  }
  await settle();
  assert.deepEqual(lefts(watcher.peer), []);
  await one!.receive(ana.peer.id, {
    type: "send",
    id: "a1",
    text: "still here",
  });
  await settle();
  assert.equal(watcher.peer.all("chat").at(-1)?.message.text, "still here");
});

Deno.test("a token issued by an instance this one has not heard from yet is found in the store", async () => {
  const { hubs: [one, two], deafen } = cluster(["one", "two"]);
  const bea = await join(two!);
  deafen(1, true);
  const ana = await join(one!);
  deafen(1, false);
  const again = await join(two!, {
    resumeToken: ana.welcome.resumeToken,
    epoch: ana.welcome.epoch,
    lastSeq: 0,
  });
  assert.equal(again.welcome.resumed, true);
  assert.deepEqual(again.welcome.you, ana.welcome.you);
  assert.deepEqual(ana.peer.closes, [CLOSE_CODES.replaced]);
  assert.ok(bea.welcome.members.length >= 1);
});
