/**
 * Edits, deletions and moderation against a real server and real
 * WebSocket clients: who may change what, what the room sees, and that a
 * change reaches members who resume and readers who page back.
 */

import assert from "node:assert/strict";
import { CLOSE_CODES, EDIT_WINDOW_MS } from "../protocol/messages.ts";
import { FixedModeratorKey } from "../server/moderator_key.ts";
import { startServer, TestClient } from "./helpers.ts";

const KEY = "test-moderator-key-0123456789abcdef";

function server(now?: () => number) {
  return startServer({
    moderatorKeys: new FixedModeratorKey(KEY),
    ...(now ? { now } : {}),
  });
}

/** A moderator and a member in the room, each with their welcome. */
async function modAndMember(s: ReturnType<typeof server>) {
  const mod = await TestClient.join(s.wsUrl, { moderatorKey: KEY });
  const member = await TestClient.join(s.wsUrl);
  return { mod: mod.client, member: member.client, welcome: member.welcome };
}

/** Sends a message and resolves with its seq once acked. */
async function say(client: TestClient, id: string, text: string) {
  client.send({ type: "send", id, text });
  const ack = await client.next("ack");
  assert.equal(ack.id, id);
  return ack.seq;
}

Deno.test("an author edits and deletes their own message; everyone sees both as entries of the log", async () => {
  const s = server();
  try {
    const { client: ana } = await TestClient.join(s.wsUrl);
    const { client: bea } = await TestClient.join(s.wsUrl);
    const seq = await say(ana, "m1", "helo");
    ana.send({ type: "edit", id: "e1", target: seq, text: "hello" });
    const editAck = await ana.next("ack");
    assert.equal(editAck.id, "e1");
    assert.ok(editAck.seq > seq, "an edit has a seq of its own");
    await bea.until(
      () => bea.all("chat").some((c) => c.message.kind === "edit"),
      "the edit reached the other member",
    );
    const edit = bea.all("chat").find((c) => c.message.kind === "edit")!;
    assert.equal(edit.message.target, seq);
    assert.equal(edit.message.text, "hello");

    ana.send({ type: "delete", id: "d1", target: seq });
    const deleteAck = await ana.next("ack");
    await bea.until(
      () => bea.all("chat").some((c) => c.message.kind === "delete"),
      "the deletion reached the other member",
    );
    const deletion = bea.all("chat").find((c) => c.message.kind === "delete")!;
    assert.equal(deletion.message.seq, deleteAck.seq);
    assert.equal(deletion.message.target, seq);
    assert.equal(deletion.message.text, "");
    assert.equal(deletion.message.moderator, undefined);

    // Resending the same edit id stores nothing new: the same ack comes back.
    ana.send({ type: "edit", id: "e1", target: seq, text: "hello" });
    assert.equal((await ana.next("ack")).seq, editAck.seq);

    // A newcomer's history and a page of older messages carry the entries.
    const { client: cy, welcome } = await TestClient.join(s.wsUrl);
    assert.deepEqual(
      welcome.history.map((m) => m.kind ?? "message"),
      ["message", "edit", "delete"],
    );
    cy.send({ type: "older", before: deleteAck.seq + 1 });
    const older = await cy.next("older");
    assert.deepEqual(older.messages.map((m) => m.seq), [
      seq,
      editAck.seq,
      deleteAck.seq,
    ]);
    await Promise.all([ana.close(), bea.close(), cy.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("a member who was away gets edits and deletions when resuming", async () => {
  const s = server();
  try {
    const { client: ana } = await TestClient.join(s.wsUrl);
    const { client: bea, welcome } = await TestClient.join(s.wsUrl);
    const seq = await say(ana, "m1", "first");
    await bea.until(() => bea.all("chat").length === 1, "bea saw it");
    await bea.close();
    ana.send({ type: "delete", id: "d1", target: seq });
    await ana.next("ack");
    const back = await TestClient.join(s.wsUrl, {
      resumeToken: welcome.resumeToken,
      epoch: welcome.epoch,
      lastSeq: seq,
    });
    assert.equal(back.welcome.recovered, true);
    assert.deepEqual(
      back.welcome.history.map((m) => [m.kind, m.target]),
      [["delete", seq]],
    );
    await Promise.all([ana.close(), back.client.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("nobody edits or deletes someone else's message, nor edits after 15 minutes", async () => {
  let now = Date.UTC(2026, 0, 1);
  const s = server(() => now);
  try {
    const { client: ana } = await TestClient.join(s.wsUrl);
    const { client: bea } = await TestClient.join(s.wsUrl);
    const seq = await say(ana, "m1", "mine");
    bea.send({ type: "edit", id: "x1", target: seq, text: "yours now" });
    let error = await bea.next("error");
    assert.equal(error.code, "not_allowed");
    assert.equal(error.ref, "x1");
    bea.send({ type: "delete", id: "x2", target: seq });
    assert.equal((await bea.next("error")).code, "not_allowed");
    bea.send({ type: "delete", id: "x3", target: seq + 100 });
    assert.equal((await bea.next("error")).code, "not_found");
    // An entry is not a message: editing an edit is refused.
    ana.send({ type: "edit", id: "e1", target: seq, text: "mine!" });
    const editSeq = (await ana.next("ack")).seq;
    ana.send({ type: "edit", id: "e2", target: editSeq, text: "again" });
    assert.equal((await ana.next("error")).code, "not_found");

    now += EDIT_WINDOW_MS + 1;
    ana.send({ type: "edit", id: "e3", target: seq, text: "too late" });
    error = await ana.next("error");
    assert.equal(error.code, "edit_window_passed");
    assert.equal(error.ref, "e3");
    // Deleting one's own message has no time limit.
    ana.send({ type: "delete", id: "d1", target: seq });
    assert.equal((await ana.next("ack")).id, "d1");
    // An edit obeys the text rules.
    const seq2 = await say(ana, "m2", "short");
    ana.send({ type: "edit", id: "e4", target: seq2, text: " \u200b " });
    error = await ana.next("error");
    assert.equal(error.code, "text_empty");
    assert.equal(error.ref, "e4");
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("a moderator key makes a moderator; a forged, empty or old one does nothing and is refused", async () => {
  const s = server();
  try {
    const { client: ana } = await TestClient.join(s.wsUrl);
    const seq = await say(ana, "m1", "something rude");
    for (const forged of ["", "x", KEY.slice(0, -1) + "X", KEY + " "]) {
      const { client, welcome } = await TestClient.join(s.wsUrl, {
        moderatorKey: forged,
      });
      assert.equal(welcome.moderator, undefined);
      const refusal = client.all("error")[0];
      assert.equal(refusal?.code, "moderator_key_invalid");
      client.send({ type: "delete", id: "d", target: seq });
      assert.equal((await client.next("error")).code, "not_allowed");
      client.send({ type: "moderate", action: "lock" });
      const lock = await client.next("error");
      assert.equal(lock.code, "not_allowed");
      await client.close();
    }
    const { client: mod, welcome } = await TestClient.join(s.wsUrl, {
      moderatorKey: KEY,
    });
    assert.equal(welcome.moderator, true);
    mod.send({ type: "delete", id: "d1", target: seq });
    await mod.next("ack");
    await ana.until(
      () => ana.all("chat").some((c) => c.message.kind === "delete"),
      "the deletion reached the author",
    );
    const deletion = ana.all("chat").find((c) => c.message.kind === "delete")!;
    assert.equal(deletion.message.moderator, true);
    assert.equal(deletion.message.from.id, welcome.you.id);
    await Promise.all([ana.close(), mod.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("a muted member is refused with the time left until unmuted; the room is told", async () => {
  const s = server();
  try {
    const { mod, member: ana, welcome } = await modAndMember(s);
    mod.send({
      type: "moderate",
      action: "mute",
      user: welcome.you.id,
      minutes: 10,
    });
    const notice = await ana.next("moderated");
    assert.equal(notice.action, "mute");
    assert.equal(notice.member?.id, welcome.you.id);
    assert.equal(notice.minutes, 10);
    ana.send({ type: "send", id: "m1", text: "let me speak" });
    const error = await ana.next("error");
    assert.equal(error.code, "muted");
    assert.equal(error.ref, "m1");
    assert.ok(
      error.retryAfterMs! > 9 * 60_000 && error.retryAfterMs! <= 10 * 60_000,
      `about 10 minutes left, got ${error.retryAfterMs} ms`,
    );
    mod.send({ type: "moderate", action: "unmute", user: welcome.you.id });
    assert.equal((await ana.next("moderated")).action, "unmute");
    assert.equal(await say(ana, "m1", "thanks") > 0, true);
    await Promise.all([ana.close(), mod.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("a kicked member is closed and kept out, token or not, until the time passes", async () => {
  let now = Date.UTC(2026, 0, 1);
  const s = server(() => now);
  try {
    const { mod, member: ana, welcome } = await modAndMember(s);
    mod.send({
      type: "moderate",
      action: "kick",
      user: welcome.you.id,
      minutes: 1,
    });
    const closed = await ana.closed;
    assert.equal(closed.code, CLOSE_CODES.kicked);
    assert.equal((await mod.next("moderated")).action, "kick");
    // Coming back with the token: refused, told for how long, closed.
    const again = await TestClient.open(s.wsUrl);
    again.send({
      type: "hello",
      room: "main",
      resumeToken: welcome.resumeToken,
    });
    const refusal = await again.next("error");
    assert.equal(refusal.code, "kicked");
    assert.equal(refusal.retryAfterMs, 60_000);
    assert.equal((await again.closed).code, CLOSE_CODES.kicked);
    // Other rooms are not affected.
    const elsewhere = await TestClient.join(s.wsUrl, {
      room: "other",
      resumeToken: welcome.resumeToken,
    });
    await elsewhere.client.close();

    // Within the resume window, the same person comes back.
    now += 60_000;
    const back = await TestClient.join(s.wsUrl, {
      resumeToken: welcome.resumeToken,
    });
    assert.equal(back.welcome.you.id, welcome.you.id);
    await Promise.all([back.client.close(), mod.close()]);
  } finally {
    await s.close();
  }
});

Deno.test("a locked room takes nobody new, keeps its members, lets moderators in", async () => {
  const s = server();
  try {
    const { mod, member: ana, welcome } = await modAndMember(s);
    mod.send({ type: "moderate", action: "lock" });
    assert.equal((await ana.next("moderated")).action, "lock");
    const stranger = await TestClient.open(s.wsUrl);
    stranger.send({ type: "hello", room: "main" });
    assert.equal((await stranger.next("error")).code, "room_locked");
    assert.equal((await stranger.closed).code, CLOSE_CODES.locked);
    // A member reconnecting is not new.
    await ana.close();
    const back = await TestClient.join(s.wsUrl, {
      resumeToken: welcome.resumeToken,
    });
    assert.equal(back.welcome.locked, true);
    const otherMod = await TestClient.join(s.wsUrl, { moderatorKey: KEY });
    assert.equal(otherMod.welcome.moderator, true);
    mod.send({ type: "moderate", action: "unlock" });
    await back.client.next("moderated");
    const { client: newcomer, welcome: w } = await TestClient.join(s.wsUrl);
    assert.equal(w.locked, undefined);
    await Promise.all([
      newcomer.close(),
      back.client.close(),
      otherMod.client.close(),
      mod.close(),
    ]);
  } finally {
    await s.close();
  }
});

Deno.test("moderation requests are validated like every other message", async () => {
  const s = server();
  try {
    const { client: mod, welcome } = await TestClient.join(s.wsUrl, {
      moderatorKey: KEY,
    });
    const cases: [Record<string, unknown>, string][] = [
      [{ type: "moderate", action: "ban", user: "x" }, "bad_message"],
      [{ type: "moderate", action: "mute", user: "x" }, "bad_message"],
      [
        { type: "moderate", action: "mute", user: "x", minutes: 0 },
        "bad_message",
      ],
      [
        { type: "moderate", action: "kick", user: "x", minutes: 1e9 },
        "bad_message",
      ],
      [{ type: "moderate", action: "lock", user: "x" }, "bad_message"],
      [
        { type: "moderate", action: "mute", user: "nobody", minutes: 1 },
        "not_found",
      ],
      [
        { type: "moderate", action: "kick", user: welcome.you.id, minutes: 1 },
        "not_allowed",
      ],
      [{ type: "edit", id: "e", target: 0, text: "x" }, "bad_message"],
      [{ type: "delete", id: "", target: 1 }, "bad_message"],
    ];
    for (const [request, code] of cases) {
      mod.send(request);
      const error = await mod.next("error");
      assert.equal(error.code, code, JSON.stringify(request));
    }
    // Still joined and working after all that.
    assert.ok(await say(mod, "m1", "still here") > 0);
    await mod.close();
  } finally {
    await s.close();
  }
});

Deno.test("a moderator exports a room as text and JSON: every kept message in order, changes applied", async () => {
  const s = server();
  try {
    const { mod, member: ana, welcome } = await modAndMember(s);
    const texts = ["first", "line one\nline two", "typo", "rude", "last"];
    const seqs = [];
    for (const [i, text] of texts.entries()) {
      seqs.push(await say(ana, `m${i}`, text));
    }
    ana.send({ type: "edit", id: "e", target: seqs[2], text: "fixed" });
    await ana.next("ack");
    mod.send({ type: "delete", id: "d", target: seqs[3] });
    await mod.next("ack");
    ana.send({ type: "delete", id: "d2", target: seqs[4] });
    await ana.next("ack");

    const get = (query: string, key?: string) =>
      fetch(`${s.url}/export?${query}`, {
        headers: key ? { authorization: `Bearer ${key}` } : {},
      });
    for (const key of [undefined, "wrong-key-wrong-key-wrong"]) {
      const refused = await get("room=main", key);
      assert.equal(refused.status, 401);
      await refused.body?.cancel();
    }
    const bad = await get("room=main&format=xml", KEY);
    assert.equal(bad.status, 400);
    await bad.body?.cancel();

    const json = await get("room=main&format=json", KEY);
    assert.equal(json.status, 200);
    assert.match(json.headers.get("content-disposition") ?? "", /attachment/);
    const doc = await json.json();
    assert.equal(doc.room, "main");
    assert.deepEqual(
      doc.messages.map((m: { seq: number }) => m.seq),
      seqs,
    );
    assert.deepEqual(
      doc.messages.map((m: { text: string }) => m.text),
      ["first", "line one\nline two", "fixed", "", ""],
    );
    assert.equal(doc.messages[2].edited, true);
    assert.equal(doc.messages[3].deleted, "moderator");
    assert.equal(doc.messages[4].deleted, "author");
    assert.equal(doc.messages[0].from.id, welcome.you.id);

    const text = await (await get("room=main&format=text", KEY)).text();
    const lines = text.trimEnd().split("\n");
    assert.match(lines[0]!, /^# Room "main", exported /);
    assert.match(
      lines[1]!,
      /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] .+: first$/,
    );
    assert.match(lines[2]!, /: line one$/);
    assert.equal(lines[3], "    line two");
    assert.match(lines[4]!, /: fixed \(edited\)$/);
    assert.match(lines[5]!, /: \[message removed by a moderator\]$/);
    assert.match(lines[6]!, /: \[message deleted\]$/);
    assert.equal(lines.length, 7);

    // A room nobody is in is read from the store alike; an empty one is empty.
    await Promise.all([ana.close(), mod.close()]);
    const empty = await (await get("room=nobody-here&format=json", KEY)).json();
    assert.deepEqual(empty.messages, []);
  } finally {
    await s.close();
  }
});

Deno.test("a moderator clears the history: members are told, resume into a new, empty epoch; newcomers see nothing old", async () => {
  const s = server();
  try {
    const { mod, member: ana, welcome } = await modAndMember(s);
    const seq = await say(ana, "m1", "something everyone should forget");
    mod.send({ type: "moderate", action: "clear" });
    const notice = await ana.next("moderated");
    assert.equal(notice.action, "clear");
    const closed = await ana.closed;
    assert.equal(closed.code, CLOSE_CODES.goingAway);
    const back = await TestClient.join(s.wsUrl, {
      resumeToken: welcome.resumeToken,
      epoch: welcome.epoch,
      lastSeq: seq,
    });
    assert.notEqual(back.welcome.epoch, welcome.epoch);
    assert.equal(back.welcome.you.id, welcome.you.id, "the same person");
    assert.deepEqual(back.welcome.history, []);
    // The same client id is a new message in the new history.
    assert.equal(await say(back.client, "m1", "a fresh start"), 1);
    const { welcome: newcomer, client: cy } = await TestClient.join(s.wsUrl);
    assert.deepEqual(newcomer.history.map((m) => m.text), ["a fresh start"]);
    const exported = await (await fetch(
      `${s.url}/export?room=main&format=json`,
      { headers: { authorization: `Bearer ${KEY}` } },
    )).json();
    assert.deepEqual(
      exported.messages.map((m: { text: string }) => m.text),
      ["a fresh start"],
    );
    await Promise.all([back.client.close(), cy.close(), mod.close()]);
  } finally {
    await s.close();
  }
});
