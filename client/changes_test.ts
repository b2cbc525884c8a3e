/**
 * The reducer's edits, deletions and moderation notices: a change reaches
 * its message whether it comes live, in the history, or before the message
 * itself (scrolling back), and survives a reload.
 */

import assert from "node:assert/strict";
import type {
  ChatMessage,
  Member,
  ServerMessage,
  WelcomeMessage,
} from "../protocol/messages.ts";
import {
  type AppEvent,
  type ChatItem,
  chatMessages,
  initialState,
  reduce,
  shownText,
  type State,
} from "./state.ts";
import { keyFromHash } from "./moderator.ts";
import { messageFrom, welcomeWith } from "./testing.ts";

const ANA: Member = { id: "u-ana", name: "Ana" };
const BEA: Member = { id: "u-bea", name: "Bea" };
const MOD: Member = { id: "u-mod", name: "Mod" };

function msg(seq: number, from: Member = BEA): ChatMessage {
  return messageFrom(seq, from);
}

function edit(seq: number, target: number, text: string): ChatMessage {
  return { ...msg(seq), clientId: `e${seq}`, text, kind: "edit", target };
}

function removal(seq: number, target: number, moderator = false): ChatMessage {
  return {
    ...msg(seq, moderator ? MOD : BEA),
    clientId: `d${seq}`,
    text: "",
    kind: "delete",
    target,
    ...(moderator ? { moderator: true as const } : {}),
  };
}

function welcome(history: ChatMessage[]): WelcomeMessage {
  return welcomeWith({ you: ANA, members: [ANA, BEA], history });
}

const server = (message: ServerMessage): AppEvent => ({
  type: "server",
  message,
  now: 5000,
});

function run(...events: AppEvent[]): State {
  return events.reduce(
    reduce,
    initialState({ room: "main", lang: "en", now: 0 }),
  );
}

function chatItems(state: State): ChatItem[] {
  return state.items.filter((i): i is ChatItem => i.kind === "chat");
}

Deno.test("changes: a live edit replaces the text; a deletion is final; entries are not messages", () => {
  const state = run(
    server(welcome([msg(1), msg(2)])),
    server({ type: "chat", message: edit(3, 1, "fixed") }),
    server({ type: "chat", message: removal(4, 2) }),
    server({ type: "chat", message: edit(5, 2, "too late") }),
  );
  const items = chatItems(state);
  assert.deepEqual(items.map((i) => i.message.seq), [1, 2]);
  assert.equal(shownText(items[0]!), "fixed");
  assert.equal(items[0]!.edit?.seq, 3);
  assert.equal(shownText(items[1]!), "");
  assert.equal(items[1]!.removal?.seq, 4);
  assert.equal(state.lastSeq, 5, "entries count for resuming");
});

Deno.test("changes: the newest edit wins, in whatever order the two arrive", () => {
  const inOrder = run(
    server(welcome([msg(1)])),
    server({ type: "chat", message: edit(2, 1, "second") }),
    server({ type: "chat", message: edit(3, 1, "third") }),
  );
  assert.equal(shownText(chatItems(inOrder)[0]!), "third");
  const paged = run(
    server(welcome([edit(3, 1, "third")])),
    server({
      type: "older",
      epoch: "e1",
      before: 3,
      messages: [msg(1), edit(2, 1, "second")],
      start: true,
    }),
  );
  assert.equal(shownText(chatItems(paged)[0]!), "third");
});

Deno.test("changes: a deletion heard before its message (history, then scrolling back) applies when it comes", () => {
  let state = run(server(welcome([msg(60), removal(61, 10, true)])));
  assert.deepEqual(chatItems(state).map((i) => i.message.seq), [60]);
  assert.ok(state.pendingChanges.has(10));
  state = reduce(
    state,
    server({
      type: "older",
      epoch: "e1",
      before: 60,
      messages: [msg(10), msg(11)],
      start: false,
    }),
  );
  const removed = chatItems(state).find((i) => i.message.seq === 10)!;
  assert.equal(removed.removal?.moderator, true);
  assert.equal(state.pendingChanges.has(10), false);
});

Deno.test("changes: a reload keeps them (entries are saved with their messages)", () => {
  const before = run(
    server(welcome([msg(1), msg(2), edit(3, 1, "fixed"), removal(4, 2)])),
  );
  const saved = chatMessages(before);
  assert.deepEqual(saved.map((m) => m.seq), [1, 2, 3, 4]);
  const after = initialState({
    room: "main",
    lang: "en",
    now: 0,
    lastSeq: 4,
    messages: saved,
  });
  const items = chatItems(after);
  assert.equal(shownText(items[0]!), "fixed");
  assert.ok(items[1]!.removal);
});

Deno.test("changes: an edit does not count as unread", () => {
  const state = run(
    server(welcome([msg(1)])),
    { type: "visibility", hidden: true },
    server({ type: "chat", message: edit(2, 1, "x") }),
    server({ type: "chat", message: msg(3) }),
  );
  assert.equal(state.unread, 1);
});

Deno.test("moderation: the welcome says moderator and locked; notices for actions; lock follows", () => {
  let state = run(server({ ...welcome([]), moderator: true, locked: true }));
  assert.equal(state.moderator, true);
  assert.equal(state.locked, true);
  state = reduce(
    state,
    server({ type: "moderated", action: "unlock", by: MOD }),
  );
  assert.equal(state.locked, false);
  state = reduce(
    state,
    server({
      type: "moderated",
      action: "mute",
      by: MOD,
      member: BEA,
      minutes: 10,
    }),
  );
  const notices = state.items.flatMap((i) =>
    i.kind === "notice" && i.notice.type === "moderated" ? [i.notice] : []
  );
  assert.deepEqual(notices.at(-1), {
    type: "moderated",
    action: "mute",
    by: "Mod",
    name: "Bea",
    userId: BEA.id,
    minutes: 10,
  });
  const plain = run(server(welcome([])));
  assert.equal(plain.moderator, false);
});

Deno.test("moderator link: the key is read from #mod= only", () => {
  assert.equal(keyFromHash("#mod=abc_DEF-123"), "abc_DEF-123");
  assert.equal(keyFromHash("#mod="), undefined);
  assert.equal(keyFromHash("#other=abc"), undefined);
  assert.equal(keyFromHash(""), undefined);
  assert.equal(keyFromHash(`#mod=${"a".repeat(129)}`), undefined);
  assert.equal(keyFromHash("#mod=a b"), undefined);
});
