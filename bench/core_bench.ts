/**
 * Micro-benchmarks of the pure core, no sockets: `deno task bench:core`.
 * The hub benches drive the real Hub with MemoryStore and LocalFanout and
 * 100 plain-object peers, so they show the chat's own cost per message
 * before any WebSocket or kernel work.
 */

import { parseClientMessage } from "../protocol/messages.ts";
import { nameSkeleton, normalizeName } from "../protocol/names.ts";
import { Hub } from "../server/chat/hub.ts";
import type { Peer } from "../server/chat/peer.ts";
import { LocalFanout } from "../server/fanout/fanout.ts";
import { MemoryStore } from "../server/store/memory_store.ts";
import { SqliteStore } from "../server/store/sqlite_store.ts";
import type { ChatStore } from "../server/store/store.ts";

const SEND_FRAME = JSON.stringify({
  type: "send",
  id: "m-1732600000000-42",
  text: "Are we still meeting at 5? I can bring the slides — and coffee ☕",
});

Deno.bench("parseClientMessage: a send frame", { group: "protocol" }, () => {
  parseClientMessage(SEND_FRAME);
});

Deno.bench("normalizeName: accented name", { group: "names" }, () => {
  normalizeName("  Zoë   Ångström-Øster ");
});

Deno.bench("nameSkeleton: accented name", { group: "names" }, () => {
  nameSkeleton("Zoë Ångström-Øster");
});

/** A peer that only counts what it is sent. */
class CountingPeer implements Peer {
  readonly id: string;
  frames = 0;
  bytes = 0;
  constructor(id: string) {
    this.id = id;
  }
  send(frame: string): void {
    this.frames++;
    this.bytes += frame.length;
  }
  stream(frames: Iterator<string>): void {
    for (let next = frames.next(); !next.done; next = frames.next()) {
      this.send(next.value);
    }
  }
  close(): void {}
}

/** Memory-store appends resolve at once; publishing waits a few microtasks. */
async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

interface Rig {
  hub: Hub;
  peers: CountingPeer[];
  /** Flush callbacks queued by batching, run by the bench itself. */
  timers: (() => void)[];
}

async function rig(peerCount: number, batchWindowMs = 0): Promise<Rig> {
  const timers: (() => void)[] = [];
  const hub = new Hub({
    store: new MemoryStore(),
    fanout: new LocalFanout(),
    // Senders are limited by the bench's loop, not by the rate limit.
    sendRate: { capacity: 1e12, refillPerSecond: 1 },
    batchWindowMs,
    // Batch whenever events follow each other, whatever the room's rate.
    busyFramesPerSecond: 0,
    schedule: (callback) => timers.push(callback),
    // A clock that stands still: with batching on, everything published
    // between two flushes shares one frame.
    now: () => 1_700_000_000_000,
  });
  const peers = Array.from(
    { length: peerCount },
    (_, i) => new CountingPeer(`peer-${i}`),
  );
  for (const peer of peers) {
    hub.connect(peer);
    await hub.receive(peer.id, { type: "hello", room: "bench" });
  }
  await settle();
  timers.splice(0).forEach((flush) => flush());
  return { hub, peers, timers };
}

/** Ten peers send one message each; any batch is flushed at the end. */
function tenSends(target: Rig, prefix: string): () => Promise<void> {
  let seq = 0;
  return async () => {
    for (let i = 0; i < 10; i++) {
      target.hub.receive(target.peers[i]!.id, {
        type: "send",
        id: `${prefix}${seq++}`,
        text: "hello, everyone",
      });
    }
    await settle();
    target.timers.splice(0).forEach((flush) => flush());
  };
}

/**
 * Runs one round and checks the peers got what the bench's name claims, so
 * a change in the hub cannot leave the bench timing nothing.
 */
async function checked(
  target: Rig,
  prefix: string,
  framesPerPeer: number,
): Promise<() => Promise<void>> {
  const round = tenSends(target, prefix);
  const before = target.peers[50]!.frames;
  await round();
  const got = target.peers[50]!.frames - before;
  if (got !== framesPerPeer) {
    throw new Error(
      `Expected ${framesPerPeer} frames per peer per round, got ${got}`,
    );
  }
  return round;
}

Deno.bench(
  "Hub: 10 sends, fan-out to 100 peers, 1 frame per message",
  { group: "hub", baseline: true },
  await checked(await rig(100), "p", 10),
);

Deno.bench(
  "Hub: 10 sends, fan-out to 100 peers, coalesced into 1 batch frame",
  { group: "hub" },
  await checked(await rig(100, 5), "b", 1),
);

// The cost of durability, without sockets: 1,000 appends to one room and the
// wait until all are acknowledged (committed), for each store.
const APPENDS = 1_000;
const sqliteDir = Deno.makeTempDirSync({ prefix: "chat-bench-store-" });
const sqliteStore = new SqliteStore({ path: `${sqliteDir}/chat.db` });
const memoryStore = new MemoryStore();
const textOf = "Are we still meeting at 5? I can bring the slides.";

let appended = 0;

async function appendMany(store: ChatStore): Promise<void> {
  const log = store.openRoom("bench");
  const commits: Promise<unknown>[] = [];
  for (let i = 0; i < APPENDS; i++) {
    commits.push(log.append({
      time: Date.now(),
      from: { id: "u1", name: "Ana" },
      // Fresh ids each run: a repeated one would be a cheap duplicate.
      clientId: `c${++appended}`,
      text: textOf,
    }));
  }
  await Promise.all(commits);
}

Deno.bench(
  "MemoryStore: 1,000 appends until acknowledged",
  { group: "store", baseline: true },
  () => appendMany(memoryStore),
);

Deno.bench(
  "SqliteStore: 1,000 appends until acknowledged (group commit, NORMAL)",
  { group: "store" },
  () => appendMany(sqliteStore),
);

// For comparison: the same appends with a commit per message, which is what
// group commits avoid.
const perMessageStore = new SqliteStore({
  path: `${sqliteDir}/per-message.db`,
  // Runs each commit at once, inside the append.
  schedule: (flush) => flush(),
});

Deno.bench(
  "SqliteStore: 1,000 appends, one transaction each (no group commit)",
  { group: "store" },
  () => appendMany(perMessageStore),
);
