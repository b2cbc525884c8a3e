/**
 * One person, several tabs: a hello that resumes a connected session from
 * another tab joins it as one more connection of the same member (listed
 * once, every tab gets the room's events and its acks), the person leaves
 * only when the last tab is gone, and the same tab reconnecting replaces
 * its dead socket as before.
 */

import assert from "node:assert/strict";
import {
  CLOSE_CODES,
  type HelloMessage,
  parseServerFrame,
  type ServerMessage,
} from "../../protocol/messages.ts";
import { LocalFanout } from "../fanout/fanout.ts";
import { FixedModeratorKey } from "../moderator_key.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { DEFAULTS, Hub } from "./hub.ts";
import type { Peer } from "./peer.ts";

type Welcome = Extract<ServerMessage, { type: "welcome" }>;

class TabPeer implements Peer {
  readonly id: string;
  readonly received: ServerMessage[] = [];
  readonly closes: number[] = [];
  constructor(id: string) {
    this.id = id;
  }
  send(frame: string): void {
    this.received.push(...(parseServerFrame(frame) ?? []));
  }
  stream(frames: Iterator<string>): void {
    for (let next = frames.next(); !next.done; next = frames.next()) {
      this.send(next.value);
    }
  }
  close(code: number): void {
    this.closes.push(code);
  }
  of<T extends ServerMessage["type"]>(type: T) {
    return this.received.filter((m): m is Extract<ServerMessage, { type: T }> =>
      m.type === type
    );
  }
}

function setUp() {
  let now = 1_000_000;
  const hub = new Hub({
    store: new MemoryStore(),
    fanout: new LocalFanout(),
    now: () => now,
    moderatorKeys: new FixedModeratorKey("m".repeat(32)),
  });
  let ids = 0;
  const open = async (hello: Partial<HelloMessage> = {}) => {
    const peer = new TabPeer(`p${++ids}`);
    hub.connect(peer);
    await hub.receive(peer.id, { type: "hello", room: "main", ...hello });
    return peer;
  };
  const welcomeOf = (peer: TabPeer): Welcome => {
    const welcome = peer.of("welcome")[0];
    assert.ok(welcome, `${peer.id} was welcomed`);
    return welcome;
  };
  const settle = async () => {
    for (let i = 0; i < 10; i++) await Promise.resolve();
  };
  return {
    hub,
    open,
    welcomeOf,
    settle,
    advance(ms: number) {
      now += ms;
      hub.sweep();
    },
  };
}

Deno.test("two tabs of one browser are one member: listed once, both receive, both are acked", async () => {
  const { hub, open, welcomeOf, settle } = setUp();
  const tabA = await open({ tab: "tab-a" });
  const first = welcomeOf(tabA);
  const bea = await open({ tab: "bea" });
  const tabB = await open({ tab: "tab-b", resumeToken: first.resumeToken });
  const second = welcomeOf(tabB);
  assert.equal(second.you.id, first.you.id, "the same person");
  assert.equal(second.resumed, true);
  assert.deepEqual(tabA.closes, [], "the first tab keeps its socket");
  assert.equal(second.online, 2, "listed once");
  assert.equal(
    bea.of("joined").filter((j) => j.member.id === first.you.id).length +
      bea.of("presence").length,
    0,
    "a second tab is not a join",
  );

  await hub.receive(bea.id, { type: "send", id: "b1", text: "hi both" });
  await settle();
  for (const tab of [tabA, tabB]) {
    assert.deepEqual(tab.of("chat").map((c) => c.message.text), ["hi both"]);
  }
  await hub.receive(tabB.id, { type: "send", id: "t1", text: "from tab B" });
  await settle();
  for (const tab of [tabA, tabB]) {
    assert.ok(tab.of("ack").some((a) => a.id === "t1"), `${tab.id} acked`);
    assert.ok(tab.of("chat").some((c) => c.message.text === "from tab B"));
  }
  const fromB = bea.of("chat").find((c) => c.message.text === "from tab B");
  assert.equal(fromB?.message.from.id, first.you.id);
});

Deno.test("the person leaves only when the last tab is gone; a remaining tab carries on", async () => {
  const { hub, open, welcomeOf, settle, advance } = setUp();
  const tabA = await open({ tab: "tab-a" });
  const first = welcomeOf(tabA);
  const bea = await open({ tab: "bea" });
  const tabB = await open({ tab: "tab-b", resumeToken: first.resumeToken });
  hub.disconnect(tabA.id);
  advance(DEFAULTS.leaveGraceMs + 1_000);
  assert.equal(
    bea.of("left").length + bea.of("presence").length,
    0,
    "nobody left",
  );
  await hub.receive(bea.id, { type: "send", id: "b1", text: "still there?" });
  await settle();
  assert.deepEqual(tabB.of("chat").map((c) => c.message.text), [
    "still there?",
  ]);
  await hub.receive(tabB.id, { type: "send", id: "t1", text: "yes" });
  await settle();
  assert.ok(tabB.of("ack").some((a) => a.id === "t1"));

  hub.disconnect(tabB.id);
  advance(DEFAULTS.leaveGraceMs + 1_000);
  assert.deepEqual(
    bea.of("left").map((l) => l.member.id),
    [first.you.id],
    "left once the last tab closed",
  );
});

Deno.test("the same tab reconnecting replaces its old socket; a hello naming no tab replaces as before", async () => {
  const { open, welcomeOf } = setUp();
  const tabA = await open({ tab: "tab-a" });
  const first = welcomeOf(tabA);
  const tabB = await open({ tab: "tab-b", resumeToken: first.resumeToken });
  const again = await open({
    tab: "tab-b",
    resumeToken: welcomeOf(tabB).resumeToken,
  });
  assert.deepEqual(tabB.closes, [CLOSE_CODES.replaced], "tab B's dead socket");
  assert.deepEqual(tabA.closes, [], "tab A untouched");
  assert.equal(welcomeOf(again).you.id, first.you.id);

  const untagged = await open({ resumeToken: welcomeOf(again).resumeToken });
  assert.deepEqual(tabA.closes, [CLOSE_CODES.replaced]);
  assert.equal(welcomeOf(untagged).you.id, first.you.id);
});

Deno.test("a kick closes every tab of the person", async () => {
  const { hub, open, welcomeOf, settle } = setUp();
  const mod = await open({ tab: "mod", moderatorKey: "m".repeat(32) });
  const tabA = await open({ tab: "tab-a" });
  const first = welcomeOf(tabA);
  const tabB = await open({ tab: "tab-b", resumeToken: first.resumeToken });
  await hub.receive(mod.id, {
    type: "moderate",
    action: "kick",
    user: first.you.id,
    minutes: 5,
  });
  await settle();
  assert.deepEqual(tabA.closes, [CLOSE_CODES.kicked]);
  assert.deepEqual(tabB.closes, [CLOSE_CODES.kicked]);
});
