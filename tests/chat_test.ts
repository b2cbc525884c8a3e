/**
 * Integration tests: a real server on port 0 and several real WebSocket
 * clients speaking the protocol.
 */

import assert from "node:assert/strict";
import { HISTORY_ON_JOIN, PROTOCOL_VERSION } from "../protocol/messages.ts";
import { startServer, TestClient } from "./helpers.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a new client is welcomed with a temporary name, members and history", async () => {
  const server = startServer();
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    assert.equal(welcome.protocol, PROTOCOL_VERSION);
    assert.equal(welcome.room, "main");
    assert.match(welcome.you.name, /^\p{L}+ \d+$/u);
    assert.ok(welcome.resumeToken.length >= 32, "token has ≥128 bits");
    assert.notEqual(welcome.resumeToken, welcome.you.id);
    assert.equal(welcome.resumed, false);
    assert.deepEqual(welcome.members, [welcome.you]);
    assert.deepEqual(welcome.history, []);

    ana.send({ type: "send", id: "m1", text: "hola" });
    await ana.next("ack");
    const { client: bea, welcome: beaWelcome } = await TestClient.join(
      server.wsUrl,
    );
    assert.equal(beaWelcome.history.length, 1);
    assert.equal(beaWelcome.history[0]?.text, "hola");
    assert.equal(beaWelcome.members.length, 2);
    assert.notEqual(beaWelcome.you.name, welcome.you.name);
    const joined = await ana.next("joined");
    assert.deepEqual(joined.member, beaWelcome.you);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("history on join is bounded to the most recent messages", async () => {
  const server = startServer({
    sendRate: { capacity: 1000, refillPerSecond: 1000 },
  });
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const total = HISTORY_ON_JOIN + 20;
    for (let i = 1; i <= total; i++) {
      ana.send({ type: "send", id: `m${i}`, text: `n${i}` });
    }
    for (let i = 1; i <= total; i++) await ana.next("ack");
    const { client: bea, welcome } = await TestClient.join(server.wsUrl);
    // The welcome starts the history; `history` frames carry the rest.
    const history = [...welcome.history];
    for (let more = welcome.moreHistory; more;) {
      const next = await bea.next("history");
      history.push(...next.messages);
      more = next.more;
    }
    assert.ok(welcome.history.length < HISTORY_ON_JOIN, "sent in slices");
    assert.deepEqual(
      history.map((m) => m.seq),
      Array.from(
        { length: HISTORY_ON_JOIN },
        (_, i) => total - HISTORY_ON_JOIN + 1 + i,
      ),
    );
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("every client sees the same messages in the same order with server seq and time", async () => {
  const server = startServer();
  try {
    const clients = await Promise.all(
      [0, 1, 2, 3].map(() => TestClient.join(server.wsUrl)),
    );
    const before = Date.now();
    for (let round = 0; round < 5; round++) {
      clients.forEach(({ client }, i) =>
        client.send({
          type: "send",
          id: `r${round}c${i}`,
          text: `${round}/${i}`,
        })
      );
    }
    const views = await Promise.all(clients.map(async ({ client }) => {
      const seen = [];
      for (let i = 0; i < 20; i++) {
        seen.push((await client.next("chat")).message);
      }
      return seen;
    }));
    const first = views[0]!;
    for (const view of views) assert.deepEqual(view, first);
    first.forEach((message, i) => {
      assert.equal(message.seq, i + 1);
      assert.ok(message.time >= before && message.time <= Date.now());
    });
    await Promise.all(clients.map(({ client }) => client.close()));
  } finally {
    await server.close();
  }
});

Deno.test("the author gets an ack with the seq, and a resent id is stored and broadcast once", async () => {
  const server = startServer();
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    ana.send({ type: "send", id: "same", text: "once" });
    const ack = await ana.next("ack");
    ana.send({ type: "send", id: "same", text: "once" });
    const again = await ana.next("ack");
    assert.deepEqual(again, ack);

    // Also across a reconnect with the resume token.
    await ana.close();
    const { client: ana2 } = await TestClient.join(server.wsUrl, {
      resumeToken: welcome.resumeToken,
    });
    ana2.send({ type: "send", id: "same", text: "once" });
    assert.deepEqual(await ana2.next("ack"), ack);
    ana2.send({ type: "send", id: "next", text: "two" });
    assert.equal((await ana2.next("ack")).seq, ack.seq + 1);
    await bea.settle();
    assert.deepEqual(bea.all("chat").map((c) => c.message.text), [
      "once",
      "two",
    ]);
    await Promise.all([ana2.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("rename is announced to everyone and refusals carry stable codes", async () => {
  const server = startServer();
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    ana.send({ type: "rename", name: "  Ana  " });
    const renamed = await bea.next("renamed");
    assert.deepEqual(renamed, {
      type: "renamed",
      id: welcome.you.id,
      from: welcome.you.name,
      to: "Ana",
    });
    await ana.next("renamed");

    const refusals: [string, string][] = [
      ["ana", "name_taken"],
      ["Аna", "name_taken"], // Cyrillic А
      ["ANA", "name_taken"],
      ["", "name_empty"],
      ["   ", "name_empty"],
      ["x".repeat(33), "name_too_long"],
      ["Be\u202Ea", "name_invalid"],
      ["Be\u200Ba", "name_invalid"],
      ["Be\na", "name_invalid"],
      ["<b>", "name_invalid"],
      ["Admin", "name_reserved"],
      ["Moderador", "name_reserved"],
      ["Sistema", "name_reserved"],
    ];
    for (const [name, code] of refusals) {
      bea.send({ type: "rename", name });
      const error = await bea.next("error");
      assert.equal(error.code, code, `rename to ${JSON.stringify(name)}`);
      assert.equal(error.ref, "rename");
    }
    bea.send({ type: "rename", name: "Beatriz Núñez" });
    assert.equal((await ana.next("renamed")).to, "Beatriz Núñez");
    await ana.settle();
    assert.equal(ana.all("renamed").length, 2, "refusals broadcast nothing");
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("two clients renaming to the same name at once: exactly one wins", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    ana.send({ type: "rename", name: "Carla" });
    bea.send({ type: "rename", name: "carla" });
    await Promise.all([ana.settle(), bea.settle()]);
    const wins = ana.all("renamed").filter((r) =>
      r.to.toLowerCase() === "carla"
    );
    const errors = [...ana.all("error"), ...bea.all("error")];
    assert.equal(wins.length, 1);
    assert.deepEqual(errors.map((e) => e.code), ["name_taken"]);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("a leave is announced once, only after the grace period", async () => {
  const server = startServer({ leaveGraceMs: 300 });
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea, welcome } = await TestClient.join(server.wsUrl);
    await bea.close();
    server.hub.sweep();
    await ana.settle(50);
    assert.equal(ana.all("left").length, 0, "no leave during grace");
    await sleep(350);
    server.hub.sweep();
    server.hub.sweep();
    const left = await ana.next("left");
    assert.deepEqual(left.member, welcome.you);
    await ana.settle(50);
    assert.equal(ana.all("left").length, 1);
    await ana.close();
  } finally {
    await server.close();
  }
});

Deno.test("a quick reconnect keeps the name and causes no leave or join notices", async () => {
  const server = startServer({ leaveGraceMs: 5_000 });
  try {
    const { client: ana, welcome: anaWelcome } = await TestClient.join(
      server.wsUrl,
    );
    const { client: bea, welcome } = await TestClient.join(server.wsUrl);
    bea.send({ type: "rename", name: "Bea" });
    await bea.next("renamed");
    await bea.close();
    server.hub.sweep();
    const { client: bea2, welcome: again } = await TestClient.join(
      server.wsUrl,
      { resumeToken: welcome.resumeToken },
    );
    assert.equal(again.resumed, true);
    assert.deepEqual(again.you, { id: welcome.you.id, name: "Bea" });
    assert.notEqual(again.resumeToken, welcome.resumeToken, "token rotates");
    await ana.settle();
    assert.equal(ana.all("left").length, 0);
    const othersJoined = ana.all("joined").filter((j) =>
      j.member.id !== anaWelcome.you.id
    );
    assert.deepEqual(othersJoined.map((j) => j.member.id), [welcome.you.id]);
    await Promise.all([ana.close(), bea2.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("resume replays exactly the missed messages in order", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea, welcome } = await TestClient.join(server.wsUrl);
    ana.send({ type: "send", id: "a1", text: "seen" });
    const seen = await bea.next("chat");
    await bea.close();
    for (let i = 2; i <= 6; i++) {
      ana.send({ type: "send", id: `a${i}`, text: `missed ${i}` });
      await ana.next("ack");
    }
    const { client: bea2, welcome: resumed } = await TestClient.join(
      server.wsUrl,
      {
        resumeToken: welcome.resumeToken,
        lastSeq: seen.message.seq,
        epoch: welcome.epoch,
      },
    );
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.history.map((m) => m.text), [
      "missed 2",
      "missed 3",
      "missed 4",
      "missed 5",
      "missed 6",
    ]);
    await Promise.all([ana.close(), bea2.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("a gap that cannot be filled is reported as recovered: false with recent history", async () => {
  const server = startServer();
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    ana.send({ type: "send", id: "x", text: "hi" });
    await ana.next("ack");
    await ana.close();
    const cases = [
      { lastSeq: 1, epoch: "another-epoch" },
      { lastSeq: 99, epoch: welcome.epoch },
    ];
    let token = welcome.resumeToken;
    for (const gap of cases) {
      const { client, welcome: again } = await TestClient.join(server.wsUrl, {
        resumeToken: token,
        ...gap,
      });
      token = again.resumeToken;
      assert.equal(again.resumed, true);
      assert.equal(again.recovered, false);
      assert.deepEqual(again.history.map((m) => m.text), ["hi"]);
      await client.close();
    }
  } finally {
    await server.close();
  }
});

Deno.test("an unknown, used or expired token gives a fresh identity, never someone else's", async () => {
  let clock = 1_000_000;
  const server = startServer({ now: () => clock, resumeWindowMs: 60_000 });
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    await ana.close();
    const { client: c1, welcome: w1 } = await TestClient.join(server.wsUrl, {
      resumeToken: "0".repeat(64),
    });
    assert.equal(w1.resumed, false);
    assert.notEqual(w1.you.id, welcome.you.id);
    const { client: c2, welcome: w2 } = await TestClient.join(server.wsUrl, {
      resumeToken: welcome.resumeToken,
    });
    assert.equal(w2.resumed, true);
    await c2.close();
    // Using the rotated token revokes the original one.
    const { client: c2b, welcome: w2b } = await TestClient.join(server.wsUrl, {
      resumeToken: w2.resumeToken,
    });
    assert.equal(w2b.resumed, true);
    await c2b.close();
    const { client: c3, welcome: w3 } = await TestClient.join(server.wsUrl, {
      resumeToken: welcome.resumeToken,
    });
    assert.equal(w3.resumed, false);
    assert.notEqual(w3.you.id, welcome.you.id);
    // The rotated token expires with the resume window.
    clock += 61_000;
    server.hub.sweep();
    const { client: c4, welcome: w4 } = await TestClient.join(server.wsUrl, {
      resumeToken: w2b.resumeToken,
    });
    assert.equal(w4.resumed, false);
    assert.notEqual(w4.you.id, welcome.you.id);
    await Promise.all([c1.close(), c3.close(), c4.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("the newest connection of a session wins and the old one is closed with 4001", async () => {
  const server = startServer();
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    const { client: ana2, welcome: again } = await TestClient.join(
      server.wsUrl,
      { resumeToken: welcome.resumeToken },
    );
    assert.equal(again.you.id, welcome.you.id);
    assert.equal((await ana.closed).code, 4001);
    ana2.send({ type: "send", id: "z", text: "still here" });
    assert.equal((await ana2.next("ack")).seq, 1);
    await ana2.close();
  } finally {
    await server.close();
  }
});

Deno.test("typing notices are throttled and presence lists who is online", async () => {
  const server = startServer({ typingThrottleMs: 10_000 });
  try {
    const { client: ana, welcome } = await TestClient.join(server.wsUrl);
    const { client: bea, welcome: beaWelcome } = await TestClient.join(
      server.wsUrl,
    );
    assert.deepEqual(
      new Set(beaWelcome.members.map((m) => m.id)),
      new Set([welcome.you.id, beaWelcome.you.id]),
    );
    ana.send({ type: "typing" });
    ana.send({ type: "typing" });
    ana.send({ type: "typing" });
    const typing = await bea.next("typing");
    assert.deepEqual(typing.member, welcome.you);
    await bea.settle();
    assert.equal(bea.all("typing").length, 1);
    assert.ok(beaWelcome.typingTimeoutMs > 0);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("rooms are separate and room names are validated", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl, {
      room: "Clase-1",
    });
    const { client: bea, welcome } = await TestClient.join(server.wsUrl, {
      room: "otra",
    });
    assert.equal(welcome.members.length, 1);
    ana.send({ type: "send", id: "1", text: "solo clase" });
    await ana.next("chat");
    await bea.settle();
    assert.equal(bea.all("chat").length, 0);
    const { client: carla, welcome: w } = await TestClient.join(server.wsUrl, {
      room: "clase-1",
    });
    assert.equal(w.room, "clase-1");
    assert.equal(w.history[0]?.text, "solo clase");

    for (const room of ["", "a b", "../x", "x".repeat(41), "<script>"]) {
      const client = await TestClient.open(server.wsUrl);
      client.send({ type: "hello", room });
      assert.equal((await client.next("error")).code, "room_invalid");
      await client.close();
    }
    await Promise.all([ana.close(), bea.close(), carla.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("bad input gets a clear error and breaks nothing else", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    const cases: [unknown, string][] = [
      ["hello", "bad_json"],
      ["{", "bad_json"],
      ["null", "bad_message"],
      ["[]", "bad_message"],
      ["42", "bad_message"],
      ['"x"', "bad_message"],
      [{ text: "no type" }, "bad_message"],
      [{ type: "shout" }, "unknown_type"],
      [{ type: "send", id: 5, text: "x" }, "bad_message"],
      [{ type: "send", id: "e1", text: "   " }, "text_empty"],
      [{ type: "send", id: "e2", text: "x".repeat(4001) }, "text_too_long"],
      [{ type: "send", id: "e3", text: "\uD800" }, "bad_message"],
      [{ type: "send", id: "e4", text: "hi", extra: 1 }, "bad_message"],
      [
        '{"type":"send","id":"e5","text":"x","__proto__":{"admin":true}}',
        "bad_message",
      ],
      [{ type: "hello", room: "main" }, "already_joined"],
      ["x".repeat(20_000), "frame_too_large"],
    ];
    for (const [frame, code] of cases) {
      ana.send(frame);
      const error = await ana.next("error");
      assert.equal(
        error.code,
        code,
        `frame ${JSON.stringify(frame).slice(0, 60)}`,
      );
      assert.ok(error.message.length > 0);
    }
    assert.equal(({} as Record<string, unknown>)["admin"], undefined);
    ana.send({ type: "send", id: "ok", text: "still works" });
    assert.equal((await bea.next("chat")).message.text, "still works");
    await bea.settle();
    assert.equal(bea.all("error").length, 0);
    assert.equal(bea.all("chat").length, 1);

    const stranger = await TestClient.open(server.wsUrl);
    stranger.send({ type: "send", id: "1", text: "hi" });
    assert.equal((await stranger.next("error")).code, "hello_required");
    await Promise.all([ana.close(), bea.close(), stranger.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("control characters are stripped from text and newlines kept", async () => {
  const server = startServer();
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    ana.send({ type: "send", id: "c", text: "a\u0007b\r\nc\td" });
    assert.equal((await ana.next("chat")).message.text, "ab\nc\td");
    await ana.close();
  } finally {
    await server.close();
  }
});

Deno.test("a connection that never says hello is closed with 4000", async () => {
  let clock = 0;
  const server = startServer({ now: () => clock, helloTimeoutMs: 1_000 });
  try {
    const silent = await TestClient.open(server.wsUrl);
    clock += 1_001;
    server.hub.sweep();
    assert.equal((await silent.closed).code, 4000);
  } finally {
    await server.close();
  }
});

Deno.test("the root path also accepts WebSocket upgrades", async () => {
  const server = startServer();
  try {
    const { client, welcome } = await TestClient.join(
      `ws://127.0.0.1:${server.port}/`,
    );
    assert.equal(welcome.type, "welcome");
    await client.close();
  } finally {
    await server.close();
  }
});

Deno.test("a busy room coalesces events into batch frames, in order and without loss", async () => {
  const server = startServer({
    batchWindowMs: 20,
    // Two clients are never "busy" by the default; batch as soon as events
    // follow each other.
    busyFramesPerSecond: 0,
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
    sendRate: { capacity: 1000, refillPerSecond: 1000 },
  });
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    await bea.settle();
    const framesBefore = bea.frames;
    const COUNT = 200;
    for (let i = 1; i <= COUNT; i++) {
      ana.send({ type: "send", id: `b${i}`, text: `burst ${i}` });
    }
    const texts = [];
    for (let i = 1; i <= COUNT; i++) {
      texts.push((await bea.next("chat")).message.text);
    }
    assert.deepEqual(
      texts,
      Array.from({ length: COUNT }, (_, i) => `burst ${i + 1}`),
    );
    const frames = bea.frames - framesBefore;
    assert.ok(frames < COUNT / 4, `${COUNT} messages came in ${frames} frames`);

    // A quiet room sends a lone event at once, not as a batch.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const lone = bea.frames;
    ana.send({ type: "send", id: "lone", text: "quiet now" });
    assert.equal((await bea.next("chat")).message.text, "quiet now");
    assert.equal(bea.frames, lone + 1);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("a client joining while events are queued sees each of them exactly once", async () => {
  const server = startServer({
    batchWindowMs: 50,
    busyFramesPerSecond: 0,
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
    sendRate: { capacity: 1000, refillPerSecond: 1000 },
  });
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    for (let i = 1; i <= 5; i++) {
      ana.send({ type: "send", id: `q${i}`, text: `queued ${i}` });
    }
    for (let i = 1; i <= 5; i++) await ana.next("ack");
    const { client: bea, welcome } = await TestClient.join(server.wsUrl);
    await bea.settle(120);
    const seqs = [
      ...welcome.history.map((m) => m.seq),
      ...bea.all("chat").map((c) => c.message.seq),
    ];
    assert.deepEqual(seqs, [1, 2, 3, 4, 5]);
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});

Deno.test("a crowd joining at once is announced in a few presence summaries, not one frame per person", async () => {
  const server = startServer({
    batchWindowMs: 5,
    presenceWindowMs: 100,
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
  });
  try {
    const { client: observer } = await TestClient.join(server.wsUrl);
    await observer.settle(150);
    const framesBefore = observer.frames;
    const CROWD = 60;
    const crowd = await Promise.all(
      Array.from({ length: CROWD }, () => TestClient.join(server.wsUrl)),
    );
    await observer.settle(250);
    const summaries = observer.all("presence");
    const single = observer.all("joined").filter((j) =>
      crowd.some((c) => c.welcome.you.id === j.member.id)
    );
    const announced = summaries.reduce((n, p) => n + p.joinedCount, 0) +
      single.length;
    assert.equal(announced, CROWD, "every arrival is counted exactly once");
    assert.ok(
      observer.frames - framesBefore <= 10,
      `${CROWD} arrivals cost the observer ${
        observer.frames - framesBefore
      } frames`,
    );
    const last = summaries.at(-1);
    if (last) assert.equal(last.online, CROWD + 1);
    assert.ok(summaries.every((p) => p.joined.length <= 20));
    await Promise.all([
      observer.close(),
      ...crowd.map((c) => c.client.close()),
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("a small room is never made to wait: events go out at once below the busy rate", async () => {
  const server = startServer({
    batchWindowMs: 50,
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
    sendRate: { capacity: 1000, refillPerSecond: 1000 },
  });
  try {
    const { client: ana } = await TestClient.join(server.wsUrl);
    const { client: bea } = await TestClient.join(server.wsUrl);
    await bea.next("presence"); // the two arrivals, announced together
    const before = bea.frames;
    for (let i = 1; i <= 20; i++) {
      ana.send({ type: "send", id: `s${i}`, text: `small ${i}` });
    }
    for (let i = 1; i <= 20; i++) await bea.next("chat");
    assert.equal(bea.frames - before, 20, "one frame per message, no window");
    await Promise.all([ana.close(), bea.close()]);
  } finally {
    await server.close();
  }
});
