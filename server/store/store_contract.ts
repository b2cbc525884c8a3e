/**
 * The behaviour every `ChatStore` promises, as tests that run unchanged
 * against each implementation: memory and SQLite beside their code, Redis
 * (a real redis-server) in tests/redis_store_test.ts.
 */

import assert from "node:assert/strict";
import type { ChatMessage } from "../../protocol/messages.ts";
import type { ChatStore, Committed, MessageDraft, RoomLog } from "./store.ts";

export interface OpenedStore {
  store: ChatStore;
  /** Closes the store and opens the same data again (durable stores). */
  reopen?(): Promise<ChatStore>;
  /** Closes and removes everything the test made. */
  cleanup(): Promise<void>;
}

export interface StoreFactory {
  /** Whether the data outlives the store object (`reopen` is given). */
  durable: boolean;
  open(options: { retention?: number }): Promise<OpenedStore>;
  /** Test options, e.g. to relax sanitizers for stores with sockets. */
  testOptions?: Partial<Deno.TestDefinition>;
}

function draft(n: number, author = "u1", clientId = `c${n}`): MessageDraft {
  return {
    time: 1_700_000_000_000 + n,
    from: { id: author, name: `Name ${author}` },
    clientId,
    text: `text ${n}`,
  };
}

/** Polls `condition` (stores may tell followers from another connection). */
async function eventually(condition: () => boolean, what: string) {
  const deadline = Date.now() + 3_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Follows `log` and waits until following is in effect. */
async function following(log: RoomLog) {
  const told: Committed[] = [];
  const stop = log.follow((committed) => told.push(committed));
  await log.read({ recent: 0 });
  return { told, stop };
}

async function appendAll(log: RoomLog, count: number, from = 1) {
  const results = [];
  for (let n = from; n < from + count; n++) {
    results.push(await log.append(draft(n)));
  }
  return results;
}

const seqs = (messages: ChatMessage[]) => messages.map((m) => m.seq);

export function describeStoreContract(
  name: string,
  factory: StoreFactory,
): void {
  const test = (
    title: string,
    fn: (opened: OpenedStore) => Promise<void>,
    options: { retention?: number } = {},
  ) =>
    Deno.test({
      name: `${name} store: ${title}`,
      ...factory.testOptions,
      async fn() {
        const opened = await factory.open(options);
        try {
          await fn(opened);
        } finally {
          await opened.cleanup();
        }
      },
    });

  test("an empty room reads as seq 0 with an epoch", async ({ store }) => {
    const history = await store.openRoom("main").read({ recent: 10 });
    assert.equal(history.lastSeq, 0);
    assert.deepEqual(history.messages, []);
    assert.equal(history.recovered, false);
    assert.ok(history.epoch.length > 0);
  });

  test("seqs are contiguous from 1 in each room, and the message comes back intact", async ({ store }) => {
    const main = store.openRoom("main");
    const other = store.openRoom("other");
    const first = await main.append(draft(1));
    assert.equal(first.duplicate, false);
    assert.deepEqual(first.message, { seq: 1, ...draft(1) });
    assert.equal((await main.append(draft(2))).message.seq, 2);
    assert.equal((await other.append(draft(3))).message.seq, 1);
    assert.equal(first.epoch, (await main.read({ recent: 0 })).epoch);
    const none = await main.read({ recent: 0 });
    assert.equal(none.lastSeq, 2);
    assert.deepEqual(none.messages, [], "recent: 0 asks for no messages");
  });

  test("edits and deletions are entries of the log, kept as they were given", async (opened) => {
    const log = opened.store.openRoom("main");
    const { told } = await following(log);
    await log.append(draft(1));
    const edit: MessageDraft = {
      ...draft(2, "u1", "e1"),
      text: "text 1, fixed",
      kind: "edit",
      target: 1,
    };
    const removal: MessageDraft = {
      ...draft(3, "mod", "d1"),
      text: "",
      kind: "delete",
      target: 1,
      moderator: true,
    };
    assert.deepEqual((await log.append(edit)).message, { seq: 2, ...edit });
    assert.deepEqual((await log.append(removal)).message, {
      seq: 3,
      ...removal,
    });
    await eventually(() => told.length >= 3, "the entries told");
    assert.deepEqual(told[2]?.message, { seq: 3, ...removal });
    const reread = async (store: ChatStore) => {
      const room = store.openRoom("main");
      const history = await room.read({ recent: 10 });
      assert.deepEqual(history.messages.slice(1), [
        { seq: 2, ...edit },
        { seq: 3, ...removal },
      ]);
      const page = await room.readBefore(4, 2);
      assert.deepEqual(page.messages.map((m) => m.kind), ["edit", "delete"]);
      assert.deepEqual(await room.find("mod", "d1"), { seq: 3, ...removal });
    };
    await reread(opened.store);
    if (opened.reopen) await reread(await opened.reopen());
  });

  test("a deleted message's text is gone from every read, not only hidden", async (opened) => {
    const log = opened.store.openRoom("main");
    await appendAll(log, 3);
    await log.append({
      ...draft(4, "u1", "d1"),
      text: "",
      kind: "delete",
      target: 2,
    });
    const check = async (room: RoomLog) => {
      const texts = (messages: ChatMessage[]) => messages.map((m) => m.text);
      const expected = ["text 1", "", "text 3", ""];
      assert.deepEqual(
        texts((await room.read({ recent: 10 })).messages),
        expected,
      );
      assert.deepEqual(
        texts((await room.readBefore(5, 10)).messages),
        expected,
      );
      assert.deepEqual(texts(await room.readAfter(0, 10)), expected);
      assert.equal((await room.find("u1", "c2"))?.text, "");
    };
    await check(log);
    if (opened.reopen) await check((await opened.reopen()).openRoom("main"));
  });

  test("moderators' decisions are kept per room, replaced, and forgotten", async (opened) => {
    const store = opened.store;
    assert.equal(await store.loadModeration("main"), null);
    store.saveModeration("main", '{"locked":true}');
    store.saveModeration("other", '{"muted":{"u1":5}}');
    store.saveModeration("main", '{"locked":true,"kicked":{"u2":9}}');
    await store.flush();
    const check = async (s: ChatStore) => {
      assert.equal(
        await s.loadModeration("main"),
        '{"locked":true,"kicked":{"u2":9}}',
      );
      assert.equal(await s.loadModeration("other"), '{"muted":{"u1":5}}');
    };
    await check(store);
    const reopened = opened.reopen ? await opened.reopen() : store;
    await check(reopened);
    reopened.saveModeration("main", null);
    await reopened.flush();
    assert.equal(await reopened.loadModeration("main"), null);
  });

  test("clear empties the room into a new epoch; seqs start again at 1", async (opened) => {
    const log = opened.store.openRoom("main");
    const other = opened.store.openRoom("other");
    await appendAll(log, 3);
    await other.append(draft(9));
    const before = await log.read({ recent: 10 });
    const epoch = await log.clear();
    assert.notEqual(epoch, before.epoch);
    const after = await log.read({ recent: 10 });
    assert.equal(after.epoch, epoch);
    assert.equal(after.lastSeq, 0);
    assert.deepEqual(after.messages, []);
    assert.equal(await log.find("u1", "c1"), undefined, "dedupe keys go too");
    const { told } = await following(log);
    const next = await log.append(draft(1));
    assert.equal(next.duplicate, false, "an old client id is new again");
    assert.equal(next.message.seq, 1);
    assert.equal(next.epoch, epoch);
    await eventually(() => told.length >= 1, "the new commit told");
    assert.equal(told[0]?.epoch, epoch);
    assert.deepEqual(
      seqs((await other.read({ recent: 10 })).messages),
      [1],
      "other rooms keep theirs",
    );
    if (opened.reopen) {
      const reopened = (await opened.reopen()).openRoom("main");
      const kept = await reopened.read({ recent: 10 });
      assert.equal(kept.epoch, epoch);
      assert.deepEqual(seqs(kept.messages), [1]);
    }
  });

  test("readAfter pages from the start to the end of what is kept", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 7);
    assert.deepEqual(seqs(await log.readAfter(0, 3)), [1, 2, 3]);
    assert.deepEqual(seqs(await log.readAfter(3, 3)), [4, 5, 6]);
    assert.deepEqual(seqs(await log.readAfter(6, 3)), [7]);
    assert.deepEqual(await log.readAfter(7, 3), []);
    assert.deepEqual(await log.readAfter(70, 3), []);
  });

  test("readAfter starts at the oldest message kept", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 250);
    const first = await log.readAfter(0, 5);
    assert.ok(first.length === 5, "a page of the kept messages");
    assert.ok(
      first[0]!.seq > 1 && first[0]!.seq <= 151,
      `oldest kept, got ${first[0]!.seq}`,
    );
    assert.deepEqual(
      seqs(first),
      [0, 1, 2, 3, 4].map((n) => first[0]!.seq + n),
    );
  }, { retention: 100 });

  test("a resent client id returns the stored copy and stores nothing", async ({ store }) => {
    const log = store.openRoom("main");
    const { told } = await following(log);
    const first = await log.append(draft(1));
    const again = await log.append({ ...draft(1), text: "changed" });
    assert.equal(again.duplicate, true);
    assert.deepEqual(again.message, first.message);
    const history = await log.read({ recent: 10 });
    assert.deepEqual(seqs(history.messages), [1]);
    await eventually(() => told.length >= 1, "the first commit told");
    await log.append(draft(2));
    await eventually(() => told.length >= 2, "the second commit told");
    assert.deepEqual(told.map((c) => c.message.seq), [1, 2]);
  });

  test("a client id resent while the first copy is in flight is stored once", async ({ store }) => {
    const log = store.openRoom("main");
    const [a, b] = await Promise.all([
      log.append(draft(1)),
      log.append(draft(1)),
    ]);
    assert.deepEqual([a.duplicate, b.duplicate].sort(), [false, true]);
    assert.deepEqual(a.message, b.message);
    assert.equal((await log.read({ recent: 0 })).lastSeq, 1);
  });

  test("the same client id from another author is another message", async ({ store }) => {
    const log = store.openRoom("main");
    await log.append(draft(1, "u1", "same"));
    const other = await log.append(draft(2, "u2", "same"));
    assert.equal(other.duplicate, false);
    assert.equal(other.message.seq, 2);
  });

  test("200 concurrent appends get distinct contiguous seqs, told once each in order", async ({ store }) => {
    const log = store.openRoom("main");
    const { told } = await following(log);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => log.append(draft(i + 1))),
    );
    assert.deepEqual(
      results.map((r) => r.message.seq).sort((a, b) => a - b),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    await eventually(() => told.length >= 200, "200 commits told");
    assert.deepEqual(
      told.map((c) => c.message.seq),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
  });

  test("read gives the most recent messages, oldest first", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 12);
    const history = await log.read({ recent: 5 });
    assert.deepEqual(seqs(history.messages), [8, 9, 10, 11, 12]);
    assert.equal(history.lastSeq, 12);
    assert.equal(history.recovered, false);
  });

  test("a resume gets exactly the gap when all of it is kept", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 10);
    const { epoch } = await log.read({ recent: 0 });
    const gap = await log.read({
      recent: 3,
      resume: { epoch, afterSeq: 6, limit: 100 },
    });
    assert.equal(gap.recovered, true);
    assert.deepEqual(seqs(gap.messages), [7, 8, 9, 10]);
    const none = await log.read({
      recent: 3,
      resume: { epoch, afterSeq: 10, limit: 100 },
    });
    assert.equal(none.recovered, true);
    assert.deepEqual(none.messages, []);
  });

  test("a resume that cannot be filled gets the recent messages instead", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 10);
    const { epoch } = await log.read({ recent: 0 });
    for (
      const resume of [
        { epoch: "another epoch", afterSeq: 6, limit: 100 },
        { epoch, afterSeq: 11, limit: 100 },
        { epoch, afterSeq: 2, limit: 5 },
      ]
    ) {
      const history = await log.read({ recent: 3, resume });
      assert.equal(history.recovered, false, JSON.stringify(resume));
      assert.deepEqual(seqs(history.messages), [8, 9, 10]);
    }
  });

  test(
    "retention keeps the newest messages and forgets older ones",
    async ({ store }) => {
      const log = store.openRoom("main");
      await appendAll(log, 150);
      const { epoch, messages } = await log.read({ recent: 1_000 });
      assert.deepEqual(
        seqs(messages),
        Array.from({ length: 100 }, (_, i) => i + 51),
      );
      const resume = await log.read({
        recent: 1,
        resume: { epoch, afterSeq: 10, limit: 1_000 },
      });
      assert.equal(resume.recovered, false, "a pruned gap cannot be filled");
      assert.equal(await log.find("u1", "c10"), undefined, "pruned: forgotten");
      assert.equal((await log.find("u1", "c140"))?.seq, 140);
    },
    { retention: 100 },
  );

  test("readBefore pages back, oldest first, to the room's first message", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 25);
    const pages = [];
    for (let before = 26, i = 0; i < 5; i++) {
      const page = await log.readBefore(before, 10);
      pages.push({ seqs: seqs(page.messages), start: page.start });
      if (page.start) break;
      before = page.messages[0]!.seq;
    }
    assert.deepEqual(pages, [
      { seqs: Array.from({ length: 10 }, (_, i) => i + 16), start: false },
      { seqs: Array.from({ length: 10 }, (_, i) => i + 6), start: false },
      { seqs: [1, 2, 3, 4, 5], start: true },
    ]);
    const first = await log.readBefore(1, 10);
    assert.deepEqual(first.messages, []);
    assert.equal(first.start, true);
    assert.equal(first.epoch, (await log.read({ recent: 0 })).epoch);
    assert.deepEqual(seqs((await log.readBefore(1_000, 3)).messages), [
      23,
      24,
      25,
    ]);
    assert.equal(
      (await log.readBefore(3, 2)).start,
      true,
      "exactly at the start",
    );
    assert.equal((await log.readBefore(4, 2)).start, false);
  });

  test(
    "readBefore ends at the oldest message retention kept",
    async ({ store }) => {
      const log = store.openRoom("main");
      await appendAll(log, 150);
      const page = await log.readBefore(60, 20);
      assert.deepEqual(
        seqs(page.messages),
        Array.from({ length: 9 }, (_, i) => i + 51),
      );
      assert.equal(page.start, true);
    },
    { retention: 100 },
  );

  test("find returns a stored message by author and client id", async ({ store }) => {
    const log = store.openRoom("main");
    await appendAll(log, 3);
    assert.equal((await log.find("u1", "c2"))?.text, "text 2");
    assert.equal(await log.find("u2", "c2"), undefined);
    assert.equal(await log.find("u1", "c9"), undefined);
  });

  test("a follower that stopped is told nothing more", async ({ store }) => {
    const log = store.openRoom("main");
    const { told, stop } = await following(log);
    await log.append(draft(1));
    await eventually(() => told.length === 1, "one commit told");
    stop();
    await log.append(draft(2));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(told.length, 1);
  });

  test("sessions are kept per room until deleted", async ({ store }) => {
    const record = (tokenHash: string, room: string) => ({
      tokenHash,
      userId: `user-${tokenHash}`,
      name: "Ana",
      room,
      expiresAt: 1_800_000_000_000,
    });
    store.putSession(record("h1", "main"));
    store.putSession(record("h2", "main"));
    store.putSession(record("h3", "other"));
    store.deleteSession("main", "h2");
    await store.flush();
    const main = await store.sessionsInRoom("main");
    assert.deepEqual(main.map((s) => s.tokenHash), ["h1"]);
    assert.equal(main[0]?.expiresAt, 1_800_000_000_000);
    assert.deepEqual(
      (await store.sessionsInRoom("other")).map((s) => s.userId),
      ["user-h3"],
    );
  });

  if (factory.durable) {
    test("messages, seqs, epoch, dedupe and sessions survive reopening", async (opened) => {
      const { store } = opened;
      const log = store.openRoom("main");
      await appendAll(log, 5);
      const before = await log.read({ recent: 10 });
      store.putSession({
        tokenHash: "h1",
        userId: "u1",
        name: "Ana",
        room: "main",
        expiresAt: 1_800_000_000_000,
      });
      await store.flush();
      const reopened = await opened.reopen!();
      const again = reopened.openRoom("main");
      const after = await again.read({ recent: 10 });
      assert.deepEqual(after, before);
      const duplicate = await again.append(draft(3));
      assert.equal(duplicate.duplicate, true);
      assert.equal(duplicate.message.seq, 3);
      assert.equal((await again.append(draft(6))).message.seq, 6);
      assert.deepEqual(
        (await reopened.sessionsInRoom("main")).map((s) => s.userId),
        ["u1"],
      );
    });
  }
}
