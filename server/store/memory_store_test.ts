/**
 * Unit tests for the in-memory store: the per-room ring buffer and the
 * session records.
 */

import assert from "node:assert/strict";
import type { ChatMessage } from "../../protocol/messages.ts";
import { MemoryStore } from "./memory_store.ts";
import type { RoomLog, SessionRecord } from "./store.ts";

function message(seq: number, author = "u1"): ChatMessage {
  return {
    seq,
    time: 1_000 + seq,
    from: { id: author, name: `Name ${author}` },
    clientId: `c${seq}`,
    text: `text ${seq}`,
  };
}

/** Appends messages with seqs from..to, checking each append succeeds. */
async function fill(log: RoomLog, from: number, to: number): Promise<void> {
  for (let seq = from; seq <= to; seq++) await log.append(message(seq));
}

/** A replay limit large enough not to matter for the test at hand. */
const NO_LIMIT = 1_000;

function seqs(messages: ChatMessage[] | null): number[] | null {
  return messages === null ? null : messages.map((m) => m.seq);
}

Deno.test("a new room log is empty with lastSeq 0 and an epoch", () => {
  const store = new MemoryStore({ newEpoch: () => "e1" });
  const log = store.openRoom("main");
  assert.equal(log.epoch, "e1");
  assert.equal(log.lastSeq, 0);
  assert.deepEqual(log.recent(10), []);
});

Deno.test("openRoom returns the same log for the same room and separate logs per room", async () => {
  let n = 0;
  const store = new MemoryStore({ newEpoch: () => `e${++n}` });
  const main = store.openRoom("main");
  await main.append(message(1));
  assert.equal(store.openRoom("main"), main);
  const other = store.openRoom("otra");
  assert.notEqual(other, main);
  assert.equal(other.lastSeq, 0);
  assert.notEqual(other.epoch, main.epoch);
});

Deno.test("append accepts seq = lastSeq + 1 and advances lastSeq at once", async () => {
  const log = new MemoryStore().openRoom("main");
  const appended = log.append(message(1));
  assert.equal(log.lastSeq, 1, "before the promise settles");
  await appended;
  await log.append(message(2));
  assert.equal(log.lastSeq, 2);
});

Deno.test("append rejects a seq that is not lastSeq + 1 and changes nothing", async () => {
  const log = new MemoryStore().openRoom("main");
  await assert.rejects(log.append(message(2)), RangeError);
  await assert.rejects(log.append(message(0)), RangeError);
  assert.equal(log.lastSeq, 0);
  await log.append(message(1));
  await assert.rejects(log.append(message(1)), RangeError, "a repeat");
  await assert.rejects(log.append(message(3)), RangeError, "a gap");
  await assert.rejects(log.append({ ...message(2), seq: 1.5 }), RangeError);
  assert.equal(log.lastSeq, 1);
  assert.deepEqual(seqs(log.recent(10)), [1]);
  assert.equal(log.findByClientId("u1", "c3"), undefined);
});

Deno.test("recent returns up to limit most recent messages, oldest first", async () => {
  const log = new MemoryStore().openRoom("main");
  await fill(log, 1, 5);
  assert.deepEqual(seqs(log.recent(3)), [3, 4, 5]);
  assert.deepEqual(seqs(log.recent(5)), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(log.recent(100)), [1, 2, 3, 4, 5]);
  assert.deepEqual(log.recent(0), []);
});

Deno.test("recent never returns pruned messages", async () => {
  const log = new MemoryStore({ retention: 3 }).openRoom("main");
  await fill(log, 1, 10);
  assert.deepEqual(seqs(log.recent(100)), [8, 9, 10]);
  assert.deepEqual(seqs(log.recent(2)), [9, 10]);
});

Deno.test("since returns the messages after a seq that is in range", async () => {
  const log = new MemoryStore().openRoom("main");
  await fill(log, 1, 5);
  assert.deepEqual(seqs(log.since(0, NO_LIMIT)), [1, 2, 3, 4, 5]);
  assert.deepEqual(seqs(log.since(2, NO_LIMIT)), [3, 4, 5]);
  assert.deepEqual(seqs(log.since(4, NO_LIMIT)), [5]);
});

Deno.test("since at the end returns an empty array", async () => {
  const empty = new MemoryStore().openRoom("empty");
  assert.deepEqual(empty.since(0, NO_LIMIT), []);
  const log = new MemoryStore().openRoom("main");
  await fill(log, 1, 5);
  assert.deepEqual(log.since(5, NO_LIMIT), []);
});

Deno.test("since beyond lastSeq returns null", async () => {
  const empty = new MemoryStore().openRoom("empty");
  assert.equal(empty.since(1, NO_LIMIT), null);
  const log = new MemoryStore().openRoom("main");
  await fill(log, 1, 5);
  assert.equal(log.since(6, NO_LIMIT), null);
  assert.equal(log.since(1_000, NO_LIMIT), null);
});

Deno.test("since returns null when some of the gap was pruned away", async () => {
  const log = new MemoryStore({ retention: 3 }).openRoom("main");
  await fill(log, 1, 10);
  // Kept: 8, 9, 10.
  assert.equal(log.since(0, NO_LIMIT), null);
  assert.equal(log.since(6, NO_LIMIT), null);
  assert.deepEqual(seqs(log.since(7, NO_LIMIT)), [8, 9, 10]);
  assert.deepEqual(seqs(log.since(9, NO_LIMIT)), [10]);
  assert.deepEqual(log.since(10, NO_LIMIT), []);
  assert.equal(log.since(11, NO_LIMIT), null);
});

Deno.test("since stays correct across many prunes and compactions", async () => {
  const log = new MemoryStore({ retention: 2 }).openRoom("main");
  for (let seq = 1; seq <= 25; seq++) {
    await log.append(message(seq));
    const oldest = Math.max(1, seq - 1);
    assert.deepEqual(
      seqs(log.since(oldest - 1, NO_LIMIT)),
      Array.from({ length: seq - oldest + 1 }, (_, i) => oldest + i),
      `after ${seq}`,
    );
    if (oldest > 1) {
      assert.equal(log.since(oldest - 2, NO_LIMIT), null, `after ${seq}`);
    }
    assert.deepEqual(
      seqs(log.recent(10)),
      seqs(log.since(oldest - 1, NO_LIMIT)),
    );
  }
});

Deno.test("since returns null when the gap is larger than limit", async () => {
  const log = new MemoryStore().openRoom("main");
  await fill(log, 1, 5);
  assert.equal(log.since(0, 4), null);
  assert.equal(log.since(1, 3), null);
  assert.deepEqual(seqs(log.since(0, 5)), [1, 2, 3, 4, 5], "exactly limit");
  assert.deepEqual(seqs(log.since(3, 2)), [4, 5]);
  assert.deepEqual(log.since(5, 0), [], "nothing missed fits any limit");
});

Deno.test("findByClientId finds a kept message by author and client id", async () => {
  const log = new MemoryStore().openRoom("main");
  await log.append(message(1, "ana"));
  await log.append({ ...message(2, "bea"), clientId: "c1" });
  assert.equal(log.findByClientId("ana", "c1")?.seq, 1);
  assert.equal(log.findByClientId("bea", "c1")?.seq, 2);
  assert.equal(log.findByClientId("cai", "c1"), undefined);
  assert.equal(log.findByClientId("ana", "c2"), undefined);
});

Deno.test("findByClientId does not confuse author and client id boundaries", async () => {
  const log = new MemoryStore().openRoom("main");
  await log.append({ ...message(1, "ab"), clientId: "c" });
  assert.equal(log.findByClientId("a", "bc"), undefined);
});

Deno.test("findByClientId forgets pruned messages", async () => {
  const log = new MemoryStore({ retention: 2 }).openRoom("main");
  await fill(log, 1, 5);
  assert.equal(log.findByClientId("u1", "c1"), undefined);
  assert.equal(log.findByClientId("u1", "c3"), undefined);
  assert.equal(log.findByClientId("u1", "c4")?.seq, 4);
  assert.equal(log.findByClientId("u1", "c5")?.seq, 5);
});

const RECORD: SessionRecord = {
  tokenHash: "hash-1",
  userId: "u1",
  name: "Ana",
  room: "main",
  expiresAt: 5_000,
};

Deno.test("sessions can be put, got and deleted by token hash", () => {
  const store = new MemoryStore();
  assert.equal(store.getSession("hash-1"), undefined);
  store.putSession(RECORD);
  assert.deepEqual(store.getSession("hash-1"), RECORD);
  store.putSession({ ...RECORD, name: "Ana María" });
  assert.equal(store.getSession("hash-1")?.name, "Ana María", "put replaces");
  store.deleteSession("hash-1");
  assert.equal(store.getSession("hash-1"), undefined);
  store.deleteSession("hash-1"); // deleting twice is harmless
});

Deno.test("putSession stores a copy, so later changes to the caller's object do not leak in", () => {
  const store = new MemoryStore();
  const record = { ...RECORD };
  store.putSession(record);
  record.name = "Changed";
  assert.equal(store.getSession("hash-1")?.name, "Ana");
});

Deno.test("sessionsInRoom lists only that room's sessions", () => {
  const store = new MemoryStore();
  store.putSession(RECORD);
  store.putSession({ ...RECORD, tokenHash: "hash-2", userId: "u2" });
  store.putSession({ ...RECORD, tokenHash: "hash-3", room: "otra" });
  assert.deepEqual(
    store.sessionsInRoom("main").map((s) => s.tokenHash).sort(),
    ["hash-1", "hash-2"],
  );
  assert.deepEqual(
    store.sessionsInRoom("otra").map((s) => s.tokenHash),
    ["hash-3"],
  );
  assert.deepEqual(store.sessionsInRoom("nowhere"), []);
  store.deleteSession("hash-2");
  assert.deepEqual(
    store.sessionsInRoom("main").map((s) => s.tokenHash),
    ["hash-1"],
  );
});

Deno.test("flush resolves and close is harmless for the memory store", async () => {
  const store = new MemoryStore();
  await store.openRoom("main").append(message(1));
  await store.flush();
  store.close();
});
