import assert from "node:assert/strict";
import { type Batching, RoomDelivery } from "./delivery.ts";

/** A room of `members` on a fake clock; timers run when the test says. */
function room(members: number, sendCost = 0) {
  let clock = 0;
  const timers: { at: number; run: () => void }[] = [];
  const frames: string[] = [];
  const batching: Batching = {
    windowMs: 5,
    presenceWindowMs: 200,
    busyFramesPerSecond: 0,
    now: () => clock,
    schedule: (run, delayMs) => timers.push({ at: clock + delayMs, run }),
  };
  const delivery = new RoomDelivery({
    sendToPeers: (frame) => {
      frames.push(frame);
      clock += sendCost;
    },
    size: () => members,
    online: () => members,
  }, batching);
  return {
    delivery,
    frames,
    /** Runs due timers `lateMs` after they were due. */
    runTimers(lateMs = 0) {
      for (const timer of timers.splice(0)) {
        clock = Math.max(clock, timer.at + lateMs);
        timer.run();
      }
    },
    advance(ms: number) {
      clock += ms;
    },
    chat(seq: number) {
      delivery.deliver({
        type: "chat",
        message: {
          seq,
          time: 0,
          from: { id: "a", name: "Ana" },
          clientId: `c${seq}`,
          text: "hi",
        },
      });
    },
  };
}

Deno.test("a busy room that keeps up batches within the configured window", () => {
  const r = room(1_000);
  for (let i = 1; i <= 20; i++) {
    r.chat(i * 2);
    r.chat(i * 2 + 1);
    r.runTimers(0);
    r.advance(10);
  }
  assert.equal(r.delivery.windowMs, 5, "no longer than --batch-ms");
});

Deno.test("late flushes grow the window up to 1 ms per 50 members, and it eases back", () => {
  const r = room(1_000);
  for (let i = 1; i <= 10; i++) {
    r.chat(i * 2);
    r.chat(i * 2 + 1);
    r.runTimers(10); // the event loop was 10 ms behind
    r.advance(50);
  }
  assert.equal(r.delivery.windowMs, 20, "capped at 1,000 / 50 ms");
  for (let i = 20; i <= 60; i++) {
    r.chat(i * 2);
    r.chat(i * 2 + 1);
    r.runTimers(0);
    r.advance(50);
  }
  assert.equal(r.delivery.windowMs, 5, "back to the configured window");
});

Deno.test("sends that take half a window grow it too", () => {
  const r = room(500, 4);
  for (let i = 1; i <= 5; i++) {
    r.chat(i * 2);
    r.chat(i * 2 + 1);
    r.runTimers(0);
    r.advance(50);
  }
  // It settles where a flush's sends take under half of it, within the cap.
  assert.ok(r.delivery.windowMs >= 8, String(r.delivery.windowMs));
  assert.ok(r.delivery.windowMs <= 10, "capped at 500 / 50 ms");
  // Every event was delivered, in order, batched or not.
  const seqs = r.frames.flatMap((f) =>
    [...f.matchAll(/"seq":(\d+)/g)].map((m) => Number(m[1]))
  );
  assert.deepEqual(seqs, Array.from({ length: 10 }, (_, i) => i + 2));
});
