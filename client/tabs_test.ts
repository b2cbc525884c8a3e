import assert from "node:assert/strict";
import { MemoryStorage } from "./storage.ts";
import {
  identityKey,
  loadIdentity,
  saveIdentity,
  type TabChannel,
  uniqueTabId,
} from "./tabs.ts";

/** Channels of one browser: a message reaches every other tab's channel. */
function browserChannels() {
  const listeners: ((event: { data: unknown }) => void)[][] = [];
  return (): TabChannel => {
    const mine: ((event: { data: unknown }) => void)[] = [];
    listeners.push(mine);
    return {
      postMessage(data) {
        for (const other of listeners) {
          if (other === mine) continue;
          // Asynchronous, like BroadcastChannel.
          for (const listener of other) {
            setTimeout(() => listener({ data: structuredClone(data) }), 1);
          }
        }
      },
      addEventListener(_type, listener) {
        mine.push(listener);
      },
    };
  };
}

function ids() {
  let n = 0;
  return () => `tab-${++n}`;
}

Deno.test("tab id: kept across a reload, new for a new tab", async () => {
  const channel = browserChannels();
  const makeId = ids();
  const storage = new MemoryStorage();
  const first = await uniqueTabId({
    storage,
    makeId,
    channel: channel(),
    reloaded: false,
  });
  assert.equal(first, "tab-1");
  const reloaded = await uniqueTabId({
    storage,
    makeId,
    channel: channel(),
    reloaded: true,
  });
  assert.equal(reloaded, "tab-1");
  const other = await uniqueTabId({
    storage: new MemoryStorage(),
    makeId,
    channel: channel(),
    reloaded: false,
  });
  assert.equal(other, "tab-2");
});

Deno.test("tab id: a duplicated tab (same sessionStorage) gets a new one, the original keeps its own", async () => {
  const channel = browserChannels();
  const makeId = ids();
  const original = new MemoryStorage();
  const id = await uniqueTabId({
    storage: original,
    makeId,
    channel: channel(),
    reloaded: false,
  });
  const copy = new MemoryStorage();
  copy.setItem("chat.tab", id);
  const duplicate = await uniqueTabId({
    storage: copy,
    makeId,
    channel: channel(),
    reloaded: false,
    waitMs: 30,
  });
  assert.notEqual(duplicate, id);
  assert.equal(copy.getItem("chat.tab"), duplicate);
  assert.equal(original.getItem("chat.tab"), id);
  // Without BroadcastChannel nobody can be asked: the stored id is kept.
  const alone = await uniqueTabId({
    storage: copy,
    makeId,
    channel: null,
    reloaded: false,
  });
  assert.equal(alone, duplicate);
});

Deno.test("identity: shared per room, checked when read", () => {
  const storage = new MemoryStorage();
  assert.equal(loadIdentity(storage, "main"), undefined);
  saveIdentity(storage, "main", { resumeToken: "t1", youId: "u1" });
  assert.deepEqual(loadIdentity(storage, "main"), {
    resumeToken: "t1",
    youId: "u1",
  });
  assert.equal(loadIdentity(storage, "other"), undefined);
  storage.setItem(identityKey("main"), '{"resumeToken":5}');
  assert.equal(loadIdentity(storage, "main"), undefined);
  storage.setItem(identityKey("main"), "not json");
  assert.equal(loadIdentity(storage, "main"), undefined);
});
