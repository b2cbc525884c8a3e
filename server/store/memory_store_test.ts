import assert from "node:assert/strict";
import { MemoryStore } from "./memory_store.ts";
import { describeStoreContract } from "./store_contract.ts";

describeStoreContract("memory", {
  durable: false,
  open: ({ retention }) =>
    Promise.resolve({
      store: new MemoryStore(retention === undefined ? {} : { retention }),
      cleanup: () => Promise.resolve(),
    }),
});

Deno.test("memory store: putSession stores a copy, so later changes to the caller's object do not leak in", async () => {
  const store = new MemoryStore();
  const record = {
    tokenHash: "h1",
    userId: "u1",
    name: "Ana",
    room: "main",
    expiresAt: 10,
  };
  store.putSession(record);
  record.name = "Changed";
  assert.equal((await store.sessionsInRoom("main"))[0]?.name, "Ana");
});

Deno.test("memory store: a room keeps its history across openRoom calls (memory is the only copy)", async () => {
  const store = new MemoryStore({ newEpoch: () => "e1" });
  await store.openRoom("main").append({
    time: 1,
    from: { id: "u1", name: "Ana" },
    clientId: "c1",
    text: "hola",
  });
  store.releaseRoom("main");
  const history = await store.openRoom("main").read({ recent: 10 });
  assert.equal(history.epoch, "e1");
  assert.deepEqual(history.messages.map((m) => m.text), ["hola"]);
});
