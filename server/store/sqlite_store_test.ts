import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { SCHEMA_VERSION, SqliteStore, StoreError } from "./sqlite_store.ts";
import type { MessageDraft } from "./store.ts";
import { describeStoreContract } from "./store_contract.ts";

function tempPath(): string {
  return `${Deno.makeTempDirSync({ prefix: "chat-sqlite-" })}/chat.db`;
}

function draft(n: number): MessageDraft {
  return {
    time: 1_700_000_000_000 + n,
    from: { id: "u1", name: "Ana" },
    clientId: `c${n}`,
    text: `text ${n}`,
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

function countMessages(path: string): number {
  const db = new DatabaseSync(path);
  try {
    return Number(
      db.prepare("SELECT count(*) AS n FROM messages").get()?.["n"],
    );
  } finally {
    db.close();
  }
}

describeStoreContract("sqlite", {
  durable: true,
  open({ retention }) {
    const path = tempPath();
    const options = retention === undefined ? { path } : { path, retention };
    let store = new SqliteStore(options);
    return Promise.resolve({
      store,
      async reopen() {
        await store.close();
        store = new SqliteStore(options);
        return store;
      },
      async cleanup() {
        await store.close();
        await Deno.remove(path.slice(0, path.lastIndexOf("/")), {
          recursive: true,
        });
      },
    });
  },
});

Deno.test("sqlite store: appends are acknowledged only once their group commit ran", async () => {
  const path = tempPath();
  const { store, commit } = manualStore(path);
  const log = store.openRoom("main");
  let acked = 0;
  const appends = [1, 2, 3].map((n) =>
    log.append(draft(n)).then((appended) => {
      acked++;
      return appended.message.seq;
    })
  );
  await Promise.resolve();
  assert.equal(acked, 0, "nothing acknowledged before the commit");
  assert.deepEqual(
    (await log.read({ recent: 10 })).messages,
    [],
    "readers see committed messages only",
  );
  commit();
  assert.deepEqual(await Promise.all(appends), [1, 2, 3]);
  await store.close();
  assert.equal(countMessages(path), 3);
});

Deno.test("sqlite store: retention prunes old messages in bounded steps", async () => {
  const path = tempPath();
  const { store, commit } = manualStore(path, 100);
  const log = store.openRoom("main");
  let n = 0;
  for (let round = 0; round < 4; round++) {
    const batch = [];
    for (let i = 0; i < 300; i++) batch.push(log.append(draft(++n)));
    commit();
    await Promise.all(batch);
  }
  await store.close();
  // 1,200 written in 4 commits of 300; each commit prunes ≤ 500 of the
  // oldest: 300 → 700 (pruned 500) … the backlog shrinks to the limit.
  const kept = countMessages(path);
  assert.ok(kept >= 100 && kept <= 200, `kept ${kept}`);
});

Deno.test("sqlite store: reads see queued session writes", async () => {
  const path = tempPath();
  const { store } = manualStore(path);
  store.putSession({
    tokenHash: "h1",
    userId: "u1",
    name: "Ana",
    room: "main",
    expiresAt: 10,
  });
  assert.deepEqual(
    (await store.sessionsInRoom("main")).map((s) => s.userId),
    ["u1"],
  );
  store.deleteSession("main", "h1");
  assert.deepEqual(await store.sessionsInRoom("main"), []);
  await store.close();
});

Deno.test("sqlite store: a new database gets the current schema version", () => {
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

Deno.test("sqlite store: a newer schema is refused with a StoreError", () => {
  const path = tempPath();
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 99");
  db.close();
  assert.throws(() => new SqliteStore({ path }), StoreError);
});

Deno.test("sqlite store: flush() resolves once queued writes are committed", async () => {
  const path = tempPath();
  const store = new SqliteStore({ path });
  const log = store.openRoom("main");
  const appended = log.append(draft(1));
  await store.flush();
  await appended;
  assert.deepEqual(
    (await log.read({ recent: 5 })).messages.map((m) => m.seq),
    [1],
  );
  await store.close();
});

Deno.test("sqlite store: a version 1 database is migrated, its messages kept", async () => {
  const path = tempPath();
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE rooms (name TEXT PRIMARY KEY, epoch TEXT NOT NULL, last_seq INTEGER NOT NULL) STRICT;
    CREATE TABLE messages (room TEXT NOT NULL, seq INTEGER NOT NULL, time INTEGER NOT NULL, author_id TEXT NOT NULL, author_name TEXT NOT NULL, client_id TEXT NOT NULL, text TEXT NOT NULL, PRIMARY KEY (room, seq)) STRICT, WITHOUT ROWID;
    CREATE UNIQUE INDEX messages_dedupe ON messages (room, author_id, client_id);
    CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, name TEXT NOT NULL, room TEXT NOT NULL, expires_at INTEGER NOT NULL) STRICT;
    CREATE INDEX sessions_room ON sessions (room);
    INSERT INTO rooms VALUES ('main', 'old-epoch', 1);
    INSERT INTO messages VALUES ('main', 1, 1700000000001, 'u1', 'Ana', 'c1', 'text 1');
    PRAGMA user_version = 1;
  `);
  db.close();
  const store = new SqliteStore({ path });
  try {
    const log = store.openRoom("main");
    const history = await log.read({ recent: 10 });
    assert.equal(history.epoch, "old-epoch");
    assert.deepEqual(history.messages, [{ seq: 1, ...draft(1) }]);
    const removal = await log.append({
      ...draft(2),
      text: "",
      kind: "delete",
      target: 1,
    });
    assert.equal(removal.message.seq, 2);
    assert.equal(removal.message.kind, "delete");
  } finally {
    await store.close();
  }
  const check = new DatabaseSync(path);
  assert.equal(
    Number(check.prepare("PRAGMA user_version").get()?.["user_version"]),
    SCHEMA_VERSION,
  );
  check.close();
});
