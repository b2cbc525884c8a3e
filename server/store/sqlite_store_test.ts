import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import type { ChatMessage } from "../../protocol/messages.ts";
import { SCHEMA_VERSION, SqliteStore, StoreError } from "./sqlite_store.ts";

function tempPath(): string {
  return `${Deno.makeTempDirSync({ prefix: "chat-sqlite-" })}/chat.db`;
}

function message(seq: number, clientId = `c${seq}`): ChatMessage {
  return {
    seq,
    time: 1_700_000_000_000 + seq,
    from: { id: "u1", name: "Ana" },
    clientId,
    text: `text ${seq}`,
  };
}

/** A store whose group commits run only when the test says so. */
function manualStore(path: string, retention?: number) {
  const flushes: (() => void)[] = [];
  const store = new SqliteStore({
    path,
    ...(retention === undefined ? {} : { retention }),
    schedule: (flush) => flushes.push(flush),
  });
  return {
    store,
    commit() {
      for (const flush of flushes.splice(0)) flush();
    },
  };
}

function countTransactions(path: string): number {
  // Each group commit bumps the room's last_seq once; the WAL is read back
  // after close, so count via the data itself instead.
  const db = new DatabaseSync(path);
  try {
    return Number(
      db.prepare("SELECT count(*) AS n FROM messages").get()?.["n"],
    );
  } finally {
    db.close();
  }
}

Deno.test("appends are acknowledged only once their group commit ran", async () => {
  const path = tempPath();
  const { store, commit } = manualStore(path);
  const log = store.openRoom("main");
  let acked = 0;
  const commits = [1, 2, 3].map((seq) =>
    log.append(message(seq)).then(() => acked++)
  );
  assert.equal(log.lastSeq, 3, "sequence numbers are handed out at once");
  await Promise.resolve();
  assert.equal(acked, 0, "nothing acknowledged before the commit");
  assert.deepEqual(log.recent(10), [], "readers see committed messages only");
  commit();
  await Promise.all(commits);
  assert.equal(acked, 3);
  assert.deepEqual(log.recent(10).map((m) => m.seq), [1, 2, 3]);
  store.close();
  assert.equal(countTransactions(path), 3);
});

Deno.test("an append out of sequence is rejected", async () => {
  const { store } = manualStore(tempPath());
  const log = store.openRoom("main");
  await assert.rejects(log.append(message(2)), RangeError);
  store.close();
});

Deno.test("history, epoch, sequence and dedupe ids survive reopening", async () => {
  const path = tempPath();
  const first = manualStore(path);
  const log = first.store.openRoom("main");
  const done = [log.append(message(1)), log.append(message(2, "dup"))];
  first.commit();
  await Promise.all(done);
  const epoch = log.epoch;
  first.store.close();

  const second = manualStore(path);
  const again = second.store.openRoom("main");
  assert.equal(again.epoch, epoch);
  assert.equal(again.lastSeq, 2);
  assert.equal(again.findByClientId("u1", "dup")?.seq, 2);
  assert.equal(again.findByClientId("u2", "dup"), undefined);
  assert.deepEqual(again.since(0, 100)?.map((m) => m.text), [
    "text 1",
    "text 2",
  ]);
  assert.notEqual(second.store.openRoom("other").epoch, epoch);
  second.store.close();
});

Deno.test("since() fills a gap only when every missed message is kept", async () => {
  const { store, commit } = manualStore(tempPath(), 100);
  const log = store.openRoom("main");
  for (let round = 0; round < 7; round++) {
    const batch = [];
    for (let i = 0; i < 100; i++) {
      batch.push(log.append(message(log.lastSeq + 1)));
    }
    commit();
    await Promise.all(batch);
  }
  assert.deepEqual(log.since(650, 1000)?.map((m) => m.seq).slice(0, 2), [
    651,
    652,
  ]);
  assert.deepEqual(log.since(700, 1000), []);
  assert.equal(log.since(701, 1000), null, "beyond what exists");
  assert.equal(log.since(600, 50), null, "more than the limit");
  assert.equal(log.since(10, 1000), null, "pruned away by retention");
  store.close();
});

Deno.test("retention prunes old messages in bounded steps", async () => {
  const path = tempPath();
  const { store, commit } = manualStore(path, 100);
  const log = store.openRoom("main");
  for (let round = 0; round < 4; round++) {
    const batch = [];
    for (let i = 0; i < 300; i++) {
      batch.push(log.append(message(log.lastSeq + 1)));
    }
    commit();
    await Promise.all(batch);
  }
  store.close();
  // 1,200 written in 4 commits of 300; each commit prunes ≤ 500 of the
  // oldest: 300 → 700 (pruned 500) … the backlog shrinks to the limit.
  const kept = countTransactions(path);
  assert.ok(kept >= 100 && kept <= 200, `kept ${kept}`);
});

Deno.test("sessions are stored by token hash and listed per room", () => {
  const path = tempPath();
  const { store, commit } = manualStore(path);
  store.putSession({
    tokenHash: "h1",
    userId: "u1",
    name: "Ana",
    room: "main",
    expiresAt: 10,
  });
  store.putSession({
    tokenHash: "h2",
    userId: "u2",
    name: "Bea",
    room: "other",
    expiresAt: 20,
  });
  commit();
  assert.equal(store.getSession("h1")?.name, "Ana");
  assert.deepEqual(store.sessionsInRoom("other").map((s) => s.userId), ["u2"]);
  store.deleteSession("h1");
  assert.equal(store.getSession("h1"), undefined, "reads see queued writes");
  store.close();
  const reopened = manualStore(path).store;
  assert.equal(reopened.getSession("h2")?.expiresAt, 20);
  reopened.close();
});

Deno.test("a new database gets the current schema version", () => {
  const path = tempPath();
  new SqliteStore({ path }).close();
  const db = new DatabaseSync(path);
  assert.equal(
    Number(db.prepare("PRAGMA user_version").get()?.["user_version"]),
    SCHEMA_VERSION,
  );
  assert.equal(
    db.prepare("PRAGMA journal_mode").get()?.["journal_mode"],
    "wal",
  );
  db.close();
});

Deno.test("a newer schema is refused with a StoreError", () => {
  const path = tempPath();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 99");
  db.close();
  assert.throws(() => new SqliteStore({ path }), StoreError);
});

Deno.test("flush() resolves once queued writes are committed", async () => {
  const path = tempPath();
  const store = new SqliteStore({ path });
  const log = store.openRoom("main");
  const appended = log.append(message(1));
  await store.flush();
  await appended;
  assert.deepEqual(log.recent(5).map((m) => m.seq), [1]);
  store.close();
});
