/**
 * Moderators' decisions as pure state, the edit/delete rules, and kicks by
 * address through the hub (plain-object peers with an address; the socket
 * edge passes the real one).
 */

import assert from "node:assert/strict";
import {
  CLOSE_CODES,
  EDIT_WINDOW_MS,
  parseServerMessage,
  type ServerMessage,
} from "../../protocol/messages.ts";
import { LocalFanout } from "../fanout/fanout.ts";
import { FixedModeratorKey } from "../moderator_key.ts";
import { MemoryStore } from "../store/memory_store.ts";
import { Hub } from "./hub.ts";
import { changeRefusal, isLoopback, RoomModeration } from "./moderation.ts";
import type { Peer } from "./peer.ts";

Deno.test("moderation state: mutes and kicks end on time, lifting ends them early", () => {
  const state = new RoomModeration();
  state.apply({
    type: "moderation",
    action: "mute",
    userId: "u1",
    until: 1_000,
  });
  assert.equal(state.mutedFor("u1", 400), 600);
  assert.equal(state.mutedFor("u2", 400), 0);
  assert.equal(state.mutedFor("u1", 1_000), 0);
  state.apply({
    type: "moderation",
    action: "mute",
    userId: "u1",
    until: 5_000,
  });
  state.apply({ type: "moderation", action: "unmute", userId: "u1" });
  assert.equal(state.mutedFor("u1", 0), 0);

  state.apply({
    type: "moderation",
    action: "kick",
    userId: "u1",
    address: "10.0.0.7",
    until: 2_000,
  });
  assert.equal(state.kickedFor("u1", undefined, 0), 2_000);
  assert.equal(state.kickedFor("new-id", "10.0.0.7", 500), 1_500);
  assert.equal(state.kickedFor("new-id", "10.0.0.8", 500), 0);
  assert.equal(state.isEmpty(0), false);
  state.apply({
    type: "moderation",
    action: "unkick",
    userId: "u1",
    address: "10.0.0.7",
  });
  assert.equal(state.kickedFor("u1", "10.0.0.7", 0), 0);

  state.apply({ type: "moderation", action: "lock" });
  assert.equal(state.locked, true);
  assert.equal(state.isEmpty(0), false);
  state.apply({ type: "moderation", action: "unlock" });
  assert.equal(state.isEmpty(0), true);
});

Deno.test("moderation state: what is over is forgotten", () => {
  const state = new RoomModeration();
  state.apply({ type: "moderation", action: "kick", userId: "u", until: 10 });
  assert.equal(state.isEmpty(9), false);
  assert.equal(state.isEmpty(10), true);
});

Deno.test("edit and delete rules: authors within the window, moderators delete only", () => {
  const message = { from: { id: "ana" }, time: 0 };
  const ask = (
    kind: "edit" | "delete",
    userId: string,
    moderator = false,
    now = 1_000,
    target: typeof message | undefined & { kind?: string } = message,
  ) => changeRefusal({ kind, target, userId, moderator, now });
  assert.equal(ask("edit", "ana"), null);
  assert.equal(ask("delete", "ana", false, EDIT_WINDOW_MS * 10), null);
  assert.equal(
    ask("edit", "ana", false, EDIT_WINDOW_MS + 1),
    "edit_window_passed",
  );
  assert.equal(ask("edit", "bea"), "not_allowed");
  assert.equal(ask("edit", "bea", true), "not_allowed");
  assert.equal(ask("delete", "bea"), "not_allowed");
  assert.equal(ask("delete", "bea", true), null);
  assert.equal(
    changeRefusal({
      kind: "delete",
      target: undefined,
      userId: "ana",
      moderator: true,
      now: 0,
    }),
    "not_found",
  );
  assert.equal(
    changeRefusal({
      kind: "delete",
      target: { ...message, kind: "edit" },
      userId: "ana",
      moderator: false,
      now: 0,
    }),
    "not_found",
  );
});

Deno.test("loopback addresses are never kept out by a kick", () => {
  for (const address of ["127.0.0.1", "127.8.0.1", "::1", "::ffff:127.0.0.1"]) {
    assert.equal(isLoopback(address), true, address);
  }
  for (
    const address of ["10.0.0.1", "192.168.1.2", "fe80::1", "::ffff:10.0.0.1"]
  ) {
    assert.equal(isLoopback(address), false, address);
  }
});

class AddressedPeer implements Peer {
  readonly id: string;
  readonly address: string;
  readonly frames: ServerMessage[] = [];
  readonly closes: number[] = [];
  constructor(id: string, address: string) {
    this.id = id;
    this.address = address;
  }
  send(frame: string): void {
    const message = parseServerMessage(frame);
    if (message) this.frames.push(message);
  }
  stream(frames: Iterator<string>): void {
    for (let next = frames.next(); !next.done; next = frames.next()) {
      this.send(next.value);
    }
  }
  close(code: number): void {
    this.closes.push(code);
  }
}

Deno.test("a kick keeps the member's address out, so a new session from it is refused too", async () => {
  let now = 1_000_000;
  const hub = new Hub({
    store: new MemoryStore(),
    fanout: new LocalFanout(),
    now: () => now,
    moderatorKeys: new FixedModeratorKey("k".repeat(32)),
  });
  let ids = 0;
  const join = async (address: string, moderatorKey?: string) => {
    const peer = new AddressedPeer(`p${++ids}`, address);
    hub.connect(peer);
    await hub.receive(peer.id, {
      type: "hello",
      room: "main",
      ...(moderatorKey ? { moderatorKey } : {}),
    });
    return peer;
  };
  const mod = await join("10.0.0.1", "k".repeat(32));
  const ana = await join("10.0.0.7");
  const anaId = ana.frames.find((f) => f.type === "welcome")?.type === "welcome"
    ? (ana.frames[0] as Extract<ServerMessage, { type: "welcome" }>).you.id
    : "";
  await hub.receive(mod.id, {
    type: "moderate",
    action: "kick",
    user: anaId,
    minutes: 30,
  });
  assert.deepEqual(ana.closes, [CLOSE_CODES.kicked]);
  hub.disconnect(ana.id);

  const anaAgain = await join("10.0.0.7");
  const refusal = anaAgain.frames.find((f) => f.type === "error");
  assert.equal(refusal?.type === "error" && refusal.code, "kicked");
  assert.deepEqual(anaAgain.closes, [CLOSE_CODES.kicked]);
  assert.equal(anaAgain.frames.some((f) => f.type === "welcome"), false);

  const neighbour = await join("10.0.0.8");
  assert.equal(neighbour.frames[0]?.type, "welcome");

  await hub.receive(mod.id, {
    type: "moderate",
    action: "unkick",
    user: anaId,
  });
  const anaForgiven = await join("10.0.0.7");
  assert.equal(anaForgiven.frames[0]?.type, "welcome");

  // Time also ends a kick.
  const bea = await join("10.0.0.9");
  const beaId = (bea.frames[0] as Extract<ServerMessage, { type: "welcome" }>)
    .you.id;
  await hub.receive(mod.id, {
    type: "moderate",
    action: "kick",
    user: beaId,
    minutes: 1,
  });
  now += 60_000;
  const beaLater = await join("10.0.0.9");
  assert.equal(beaLater.frames[0]?.type, "welcome");
});
