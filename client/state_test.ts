import assert from "node:assert/strict";
import type {
  Member,
  ServerMessage,
  WelcomeMessage,
} from "../protocol/messages.ts";
import type { OutboxEntry } from "./outbox.ts";
import { messageFrom, welcomeWith } from "./testing.ts";
import {
  type AppEvent,
  chatMessages,
  initialState,
  type Item,
  MAX_ITEMS,
  pendingEntries,
  reduce,
  type State,
} from "./state.ts";

const ANA: Member = { id: "u-ana", name: "Ana" };
const BEA: Member = { id: "u-bea", name: "Bea" };

function msg(seq: number, from: Member = BEA, clientId?: string) {
  return messageFrom(seq, from, clientId);
}

function welcome(overrides: Partial<WelcomeMessage> = {}): WelcomeMessage {
  return welcomeWith({ you: ANA, members: [ANA, BEA], ...overrides });
}

function server(message: ServerMessage, now = 0): AppEvent {
  return { type: "server", message, now };
}

function run(state: State, ...events: AppEvent[]): State {
  return events.reduce(reduce, state);
}

function fresh(): State {
  return initialState({ room: "main", lang: "en", now: 0 });
}

function seqs(state: State): (number | string)[] {
  return state.items.map((i) =>
    i.kind === "chat" ? i.message.seq : i.notice.type
  );
}

function entry(
  id: string,
  text: string,
  status: OutboxEntry["status"] = "pending",
): OutboxEntry {
  return { id, text, createdAt: 5, status };
}

Deno.test("a fresh welcome shows the history, members and identity", () => {
  const state = run(fresh(), server(welcome({ history: [msg(2), msg(1)] })));
  assert.deepEqual(seqs(state), [1, 2]);
  assert.deepEqual(state.you, ANA);
  assert.equal(state.members.length, 2);
  assert.equal(state.lastSeq, 2);
  assert.equal(state.epoch, "e1");
  assert.equal(state.typingTimeoutMs, 4000);
});

Deno.test("member pages asked for after a welcome complete the list; the count comes from the welcome", () => {
  const CAL: Member = { id: "u-cal", name: "Cal" };
  const DAN: Member = { id: "u-dan", name: "Dan" };
  const first = run(
    fresh(),
    server(
      welcome({
        members: [ANA],
        moreMembers: true,
        online: 4,
        membersCursor: 1,
      }),
    ),
  );
  assert.equal(first.online, 4, "the room's size, not the names known");
  assert.equal(first.membersCursor, 1, "where the next page starts");
  const state = run(
    first,
    server({ type: "members", members: [BEA, CAL], more: true, next: 3 }),
    server({ type: "members", members: [DAN, BEA], more: false, next: 4 }),
  );
  assert.deepEqual(state.members, [ANA, BEA, CAL, DAN]);
  assert.equal(state.membersCursor, undefined, "nothing more to ask for");
  // A reconnect's welcome starts the list again rather than adding to it.
  const again = run(state, server(welcome({ members: [ANA, CAL] })));
  assert.deepEqual(again.members, [ANA, CAL]);
  assert.equal(again.online, undefined);
  assert.equal(again.membersCursor, undefined);
});

Deno.test("history frames after a welcome complete the history and lastSeq", () => {
  const state = run(
    fresh(),
    server(welcome({ history: [msg(1), msg(2)], moreHistory: true })),
    server({ type: "history", messages: [msg(3), msg(4)], more: true }),
    server({ type: "history", messages: [msg(5)], more: false }),
  );
  assert.deepEqual(seqs(state), [1, 2, 3, 4, 5]);
  assert.equal(state.lastSeq, 5);
});

Deno.test("a gap marker placed by a welcome stays before its later history frames", () => {
  const first = run(fresh(), server(welcome({ history: [msg(1), msg(2)] })));
  const resumed = run(
    first,
    server(welcome({
      resumed: true,
      recovered: false,
      history: [msg(10), msg(11)],
      moreHistory: true,
    })),
    server({ type: "history", messages: [msg(12)], more: false }),
  );
  assert.deepEqual(seqs(resumed), [1, 2, "gap", 10, 11, 12]);
});

Deno.test("chat messages stay ordered by seq and duplicates are dropped", () => {
  const state = run(
    fresh(),
    server(welcome({ history: [msg(1)] })),
    server({ type: "chat", message: msg(3) }),
    server({ type: "chat", message: msg(2) }),
    server({ type: "chat", message: msg(3) }),
  );
  assert.deepEqual(seqs(state), [1, 2, 3]);
  assert.equal(state.lastSeq, 3);
});

Deno.test("a recovered resume appends exactly the missed messages", () => {
  const first = run(fresh(), server(welcome({ history: [msg(1), msg(2)] })));
  const resumed = run(
    first,
    server(
      welcome({ resumed: true, recovered: true, history: [msg(3), msg(4)] }),
    ),
  );
  assert.deepEqual(seqs(resumed), [1, 2, 3, 4]);
});

Deno.test("an unrecovered resume marks the gap and merges the history", () => {
  const first = run(fresh(), server(welcome({ history: [msg(1), msg(2)] })));
  const later = run(
    first,
    server(
      welcome({
        resumed: true,
        recovered: false,
        history: [msg(2), msg(50), msg(51)],
      }),
    ),
  );
  assert.deepEqual(seqs(later), [1, 2, "gap", 50, 51]);
});

Deno.test("a fresh client with no lastSeq shows no gap marker", () => {
  const state = run(fresh(), server(welcome({ history: [msg(7)] })));
  assert.ok(!state.items.some((i) => i.kind === "notice"));
});

Deno.test("a new epoch distrusts old seqs: list cleared, marker shown", () => {
  const first = run(
    fresh(),
    server(welcome({ history: [msg(1), msg(2), msg(3)] })),
  );
  const next = run(first, server(welcome({ epoch: "e2", history: [msg(1)] })));
  assert.deepEqual(seqs(next), ["gap", 1]);
  assert.equal(next.lastSeq, 1);
  assert.equal(
    next.items[1]?.kind === "chat" && next.items[1].message.text,
    "text 1",
  );
});

Deno.test("a new epoch with an empty history forgets lastSeq", () => {
  const first = run(fresh(), server(welcome({ history: [msg(4)] })));
  const next = run(first, server(welcome({ epoch: "e2" })));
  assert.deepEqual(seqs(next), ["gap"]);
  assert.equal(next.lastSeq, undefined);
});

Deno.test("messages restored after a reload are kept when the resume recovers", () => {
  const restored = initialState({
    room: "main",
    lang: "es",
    now: 0,
    youId: ANA.id,
    epoch: "e1",
    lastSeq: 2,
    messages: [msg(1, ANA), msg(2)],
  });
  assert.equal(
    restored.items[0]?.kind === "chat" && restored.items[0].own,
    true,
  );
  const next = run(
    restored,
    server(welcome({ resumed: true, recovered: true, history: [msg(3)] })),
  );
  assert.deepEqual(seqs(next), [1, 2, 3]);
  assert.deepEqual(chatMessages(next).map((m) => m.seq), [1, 2, 3]);
});

Deno.test("an own message goes pending → sent and merges with its chat echo", () => {
  let state = run(fresh(), server(welcome()), {
    type: "outbox",
    entries: [entry("x1", "hola")],
  });
  assert.deepEqual(pendingEntries(state).map((e) => e.id), ["x1"]);
  state = run(state, server({ type: "ack", id: "x1", seq: 9, time: 99 }));
  assert.equal(pendingEntries(state).length, 0);
  const item = state.items[0];
  assert.ok(item?.kind === "chat");
  assert.equal(item.own, true);
  assert.equal(item.sent, true);
  assert.equal(item.message.seq, 9);
  assert.equal(item.message.text, "hola");
  state = run(
    state,
    { type: "outbox", entries: [] },
    server({ type: "chat", message: { ...msg(9, ANA, "x1"), text: "hola" } }),
  );
  assert.equal(state.items.length, 1);
  const merged = state.items[0];
  assert.ok(merged?.kind === "chat" && merged.sent && merged.key === item.key);
});

Deno.test("an own chat echo before the ack is not duplicated", () => {
  let state = run(fresh(), server(welcome()), {
    type: "outbox",
    entries: [entry("x1", "hola")],
  });
  state = run(state, server({ type: "chat", message: msg(4, ANA, "x1") }));
  assert.equal(pendingEntries(state).length, 0);
  state = run(state, server({ type: "ack", id: "x1", seq: 4, time: 1 }));
  assert.equal(state.items.length, 1);
  const only = state.items[0];
  assert.ok(only?.kind === "chat" && only.sent);
});

Deno.test("an error for an outbox entry leaves the list to the outbox", () => {
  const state = run(fresh(), server(welcome()), {
    type: "outbox",
    entries: [entry("x1", "long")],
  });
  const next = reduce(
    state,
    server({
      type: "error",
      code: "text_too_long",
      message: "Too long",
      ref: "x1",
    }),
  );
  assert.equal(next, state);
});

Deno.test("other errors become system notices", () => {
  const state = run(
    fresh(),
    server(welcome()),
    server({ type: "error", code: "rate_limited", message: "Slow down" }),
  );
  const notice = state.items.at(-1);
  assert.ok(notice?.kind === "notice" && notice.notice.type === "error");
});

Deno.test("rename: a name error stays in the open dialog; success closes it", () => {
  let state = run(fresh(), server(welcome()), { type: "renameOpen" });
  state = run(
    state,
    server({
      type: "error",
      code: "name_taken",
      message: "Taken",
      ref: "rename",
    }),
  );
  assert.deepEqual(state.rename, { open: true, error: "name_taken" });
  assert.ok(!state.items.some((i) => i.kind === "notice"));
  state = run(
    state,
    server({ type: "renamed", id: ANA.id, from: "Ana", to: "Cris" }),
  );
  assert.deepEqual(state.rename, { open: false });
  assert.deepEqual(state.you, { id: ANA.id, name: "Cris" });
  assert.ok(state.members.some((m) => m.name === "Cris"));
  const last = state.items.at(-1);
  assert.ok(last?.kind === "notice");
  assert.deepEqual(last.notice, { type: "renamed", from: "Ana", to: "Cris" });
});

Deno.test("someone else's rename keeps my dialog as it was", () => {
  const state = run(
    fresh(),
    server(welcome()),
    { type: "renameOpen" },
    server({ type: "renamed", id: BEA.id, from: "Bea", to: "Bel" }),
  );
  assert.equal(state.rename.open, true);
  assert.deepEqual(state.members.map((m) => m.name), ["Ana", "Bel"]);
});

Deno.test("joins and leaves update members and add notices, not for myself", () => {
  const CRIS = { id: "u-cris", name: "Cris" };
  const state = run(
    fresh(),
    server(welcome({ members: [ANA] })),
    server({ type: "joined", member: ANA }),
    server({ type: "joined", member: CRIS }),
    server({ type: "left", member: CRIS }),
  );
  assert.deepEqual(state.members, [ANA]);
  assert.deepEqual(
    state.items.map((i: Item) => i.kind === "notice" ? i.notice : null),
    [{ type: "joined", name: "Cris" }, { type: "left", name: "Cris" }],
  );
});

Deno.test("notices sit after the messages that came before them", () => {
  const state = run(
    fresh(),
    server(welcome({ history: [msg(1)] })),
    server({ type: "joined", member: { id: "u-c", name: "C" } }),
    server({ type: "chat", message: msg(2) }),
  );
  assert.deepEqual(seqs(state), [1, "joined", 2]);
});

Deno.test("typing expires after typingTimeoutMs or when a message arrives", () => {
  let state = run(
    fresh(),
    server(welcome()),
    server({ type: "typing", member: BEA }, 1000),
  );
  assert.deepEqual(state.typing.map((t) => t.name), ["Bea"]);
  assert.equal(reduce(state, { type: "tick", now: 4999 }), state);
  assert.equal(run(state, { type: "tick", now: 5000 }).typing.length, 0);
  state = run(state, server({ type: "chat", message: msg(1) }, 1500));
  assert.equal(state.typing.length, 0);
  const own = run(state, server({ type: "typing", member: ANA }, 1600));
  assert.equal(own.typing.length, 0);
});

Deno.test("typing is cleared when the connection drops", () => {
  const state = run(
    fresh(),
    server(welcome()),
    server({ type: "typing", member: BEA }),
    {
      type: "connection",
      status: { phase: "reconnecting", retryAt: 10, unreachable: false },
      now: 1,
    },
  );
  assert.equal(state.typing.length, 0);
});

Deno.test("unread counts others' messages while hidden and resets when visible", () => {
  let state = run(
    fresh(),
    server(welcome()),
    { type: "visibility", hidden: true },
    server({ type: "chat", message: msg(1) }),
    server({ type: "chat", message: msg(2, ANA) }),
    server({ type: "chat", message: msg(3) }),
  );
  assert.equal(state.unread, 2);
  state = run(state, { type: "visibility", hidden: false });
  assert.equal(state.unread, 0);
});

Deno.test("the list keeps at most MAX_ITEMS items, dropping the oldest", () => {
  let state = run(fresh(), server(welcome()));
  for (let seq = 1; seq <= MAX_ITEMS + 20; seq++) {
    state = reduce(state, server({ type: "chat", message: msg(seq) }));
  }
  assert.equal(state.items.length, MAX_ITEMS);
  assert.deepEqual(seqs(state)[0], 21);
});

Deno.test("the reconnect countdown ticks only while reconnecting", () => {
  const open = run(fresh(), server(welcome()), {
    type: "connection",
    status: { phase: "open" },
    now: 0,
  });
  assert.equal(reduce(open, { type: "tick", now: 1000 }), open);
  const waiting = run(open, {
    type: "connection",
    status: { phase: "reconnecting", retryAt: 5000, unreachable: true },
    now: 0,
  });
  assert.equal(run(waiting, { type: "tick", now: 1000 }).now, 1000);
});

Deno.test("a presence summary updates members, the room size and shows one crowd notice", () => {
  let state = reduce(initialState({ room: "main", lang: "en", now: 0 }), {
    type: "server",
    now: 0,
    message: {
      type: "welcome",
      protocol: 2,
      room: "main",
      epoch: "e",
      you: { id: "me", name: "Me" },
      resumeToken: "t",
      resumed: false,
      recovered: false,
      history: [],
      members: [{ id: "me", name: "Me" }, { id: "x", name: "Xavi" }],
      moreHistory: false,
      moreMembers: false,
      typingTimeoutMs: 6000,
    },
  });
  state = reduce(state, {
    type: "server",
    now: 1,
    message: {
      type: "presence",
      joined: [{ id: "a", name: "Ana" }, { id: "b", name: "Bea" }],
      left: [{ id: "x", name: "Xavi" }],
      joinedCount: 43,
      leftCount: 1,
      online: 44,
    },
  });
  assert.deepEqual(state.members.map((m) => m.id), ["me", "a", "b"]);
  assert.equal(state.online, 44);
  const notices = state.items.filter((i) => i.kind === "notice").map((i) =>
    i.kind === "notice" ? i.notice : null
  );
  assert.deepEqual(notices, [
    { type: "crowd", kind: "joined", names: ["Ana", "Bea"], others: 41 },
    { type: "crowd", kind: "left", names: ["Xavi"], others: 0 },
  ]);
});

Deno.test("a remembered name that is taken leaves a notice naming both names, and the temporary one", () => {
  const state = run(
    fresh(),
    server(welcome({ you: { id: "u-me", name: "Puma 12" } })),
    { type: "nameClaimRefused", wanted: "Ana" },
  );
  assert.equal(state.you?.name, "Puma 12");
  const notice = state.items.findLast((i) => i.kind === "notice");
  assert.deepEqual(
    notice?.kind === "notice" ? notice.notice : undefined,
    { type: "nameKept", wanted: "Ana", name: "Puma 12" },
  );
  assert.equal(state.rename.open, false, "no dialog pops up by itself");
});

Deno.test("older pages go in before what is shown, up to the start of the room", () => {
  const page = (from: number, to: number) =>
    Array.from({ length: to - from + 1 }, (_, i) => ({
      seq: from + i,
      time: 0,
      from: BEA,
      clientId: `c${from + i}`,
      text: `m${from + i}`,
    }));
  const welcomed = run(fresh(), server(welcome({ history: page(51, 100) })));
  assert.equal(welcomed.historyStart, false);
  const asked = run(welcomed, { type: "olderRequested", before: 51 });
  assert.equal(asked.olderPending, 51);
  // A page of another epoch (the history was replaced) adds nothing.
  const stale = run(
    asked,
    server({
      type: "older",
      epoch: "other",
      before: 51,
      messages: page(1, 50),
      start: true,
    }),
  );
  assert.equal(stale.items.length, welcomed.items.length);
  assert.equal(stale.olderPending, undefined);
  const paged = run(
    asked,
    server({
      type: "older",
      epoch: welcomed.epoch!,
      before: 51,
      messages: page(1, 50),
      start: true,
    }),
  );
  const seqsShown = paged.items.flatMap((i) =>
    i.kind === "chat" ? [i.message.seq] : []
  );
  assert.deepEqual(seqsShown, page(1, 100).map((m) => m.seq));
  assert.equal(paged.historyStart, true);
  assert.equal(paged.pagedIn, 50);
  assert.equal(paged.olderPending, undefined);
  // A welcome that starts at seq 1 is at the start already.
  assert.equal(
    run(fresh(), server(welcome({ history: page(1, 3) }))).historyStart,
    true,
  );
});
