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
