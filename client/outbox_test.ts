import assert from "node:assert/strict";
import { Outbox, outboxKey } from "./outbox.ts";
import { loadSession, MemoryStorage, saveSession } from "./storage.ts";

const KEY = outboxKey("main", "tab-1");

Deno.test("outbox entries survive a reload in order, with their ids", () => {
  const storage = new MemoryStorage();
  const outbox = new Outbox(storage, KEY);
  outbox.add("a", "hola", 1);
  outbox.add("b", "adiós", 2);
  const reloaded = new Outbox(storage, KEY);
  assert.deepEqual(reloaded.entries.map((e) => [e.id, e.text, e.status]), [
    ["a", "hola", "pending"],
    ["b", "adiós", "pending"],
  ]);
});

Deno.test("outbox keys are per room and per tab", () => {
  const storage = new MemoryStorage();
  new Outbox(storage, outboxKey("main", "tab-1")).add("a", "x", 1);
  assert.equal(
    new Outbox(storage, outboxKey("main", "tab-2")).entries.length,
    0,
  );
  assert.equal(
    new Outbox(storage, outboxKey("other", "tab-1")).entries.length,
    0,
  );
});

Deno.test("a failed entry keeps its id and is retried with the same id", () => {
  const storage = new MemoryStorage();
  const outbox = new Outbox(storage, KEY);
  outbox.add("a", "one", 1);
  outbox.add("b", "two", 2);
  assert.ok(outbox.fail("a", "rate_limited"));
  assert.deepEqual(outbox.pending().map((e) => e.id), ["b"]);
  assert.equal(new Outbox(storage, KEY).entries[0]?.error, "rate_limited");
  const retried = outbox.retry("a");
  assert.equal(retried?.id, "a");
  assert.equal(retried?.status, "pending");
  assert.equal(retried?.error, undefined);
  assert.deepEqual(outbox.pending().map((e) => e.id), ["a", "b"]);
});

Deno.test("removing the last entry clears storage", () => {
  const storage = new MemoryStorage();
  const outbox = new Outbox(storage, KEY);
  outbox.add("a", "one", 1);
  assert.ok(outbox.remove("a"));
  assert.equal(outbox.remove("a"), false);
  assert.equal(storage.getItem(KEY), null);
});

Deno.test("every change replaces the entries array", () => {
  const outbox = new Outbox(new MemoryStorage(), KEY);
  const before = outbox.entries;
  outbox.add("a", "one", 1);
  assert.notEqual(outbox.entries, before);
});

Deno.test("adding a duplicate id throws", () => {
  const outbox = new Outbox(new MemoryStorage(), KEY);
  outbox.add("a", "one", 1);
  assert.throws(() => outbox.add("a", "again", 2), RangeError);
});

Deno.test("corrupt or foreign storage contents are ignored", () => {
  const storage = new MemoryStorage();
  storage.setItem(KEY, "{not json");
  assert.deepEqual(new Outbox(storage, KEY).entries, []);
  storage.setItem(
    KEY,
    JSON.stringify([
      { id: "ok", text: "t", createdAt: 1, status: "pending" },
      { id: 5, text: "t", createdAt: 1, status: "pending" },
      { id: "bad", text: "t", createdAt: 1, status: "weird" },
      { id: "ok", text: "duplicate", createdAt: 2, status: "pending" },
    ]),
  );
  assert.deepEqual(new Outbox(storage, KEY).entries.map((e) => e.id), ["ok"]);
});

Deno.test("storage that throws does not break the outbox", () => {
  const broken = {
    getItem(): string | null {
      throw new Error("SecurityError");
    },
    setItem(): void {
      throw new Error("QuotaExceededError");
    },
    removeItem(): void {
      throw new Error("SecurityError");
    },
  };
  const outbox = new Outbox(broken, KEY);
  outbox.add("a", "one", 1);
  assert.equal(outbox.entries.length, 1);
  assert.ok(outbox.remove("a"));
});

Deno.test("session records round-trip and drop lastSeq without an epoch", () => {
  const storage = new MemoryStorage();
  const message = {
    seq: 3,
    time: 10,
    from: { id: "u1", name: "Ana" },
    clientId: "c1",
    text: "hola",
  };
  saveSession(storage, "main", {
    resumeToken: "tok",
    epoch: "e1",
    lastSeq: 3,
    youId: "u1",
    messages: [message],
  });
  assert.deepEqual(loadSession(storage, "main"), {
    resumeToken: "tok",
    epoch: "e1",
    lastSeq: 3,
    youId: "u1",
    messages: [message],
  });
  assert.deepEqual(loadSession(storage, "other"), { messages: [] });
  storage.setItem("chat.session.main", JSON.stringify({ lastSeq: 3 }));
  assert.deepEqual(loadSession(storage, "main"), { messages: [] });
});
