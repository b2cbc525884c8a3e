import assert from "node:assert/strict";
import { SendPump } from "./send_pump.ts";

function setup(count: number, maxInFlight = 3) {
  let entries = Array.from({ length: count }, (_, i) => ({
    id: `m${i + 1}`,
    text: `text ${i + 1}`,
  }));
  const sent: string[] = [];
  const timers: { callback: () => void; ms: number; cancelled: boolean }[] = [];
  let connected = true;
  const pump = new SendPump({
    pending: () => entries,
    send: (id) => {
      if (!connected) return false;
      sent.push(id);
      return true;
    },
    setTimer: (callback, ms) => {
      const timer = { callback, ms, cancelled: false };
      timers.push(timer);
      return () => (timer.cancelled = true);
    },
    maxInFlight,
  });
  return {
    pump,
    sent,
    timers,
    ack(id: string) {
      entries = entries.filter((e) => e.id !== id);
      pump.settled(id);
    },
    setConnected(value: boolean) {
      connected = value;
    },
  };
}

Deno.test("no more than the in-flight limit is sent before acks arrive", () => {
  const t = setup(10);
  t.pump.pump();
  assert.deepEqual(t.sent, ["m1", "m2", "m3"]);
  t.ack("m1");
  assert.deepEqual(t.sent, ["m1", "m2", "m3", "m4"]);
  t.pump.pump();
  assert.equal(t.sent.length, 4, "pumping again sends nothing twice");
});

Deno.test("rate_limited pauses all sending, then resends the same id in order", () => {
  const t = setup(5);
  t.pump.pump();
  t.pump.rateLimited("m2", 1500);
  t.ack("m1");
  assert.deepEqual(t.sent, ["m1", "m2", "m3"], "paused: nothing new goes out");
  assert.equal(t.timers.at(-1)?.ms, 1500);
  t.timers.at(-1)?.callback();
  assert.deepEqual(t.sent, ["m1", "m2", "m3", "m2", "m4"]);
});

Deno.test("while disconnected nothing counts as in flight; reset resends everything", () => {
  const t = setup(2);
  t.setConnected(false);
  t.pump.pump();
  assert.deepEqual(t.sent, []);
  t.setConnected(true);
  t.pump.reset();
  assert.deepEqual(t.sent, ["m1", "m2"]);
  t.pump.reset();
  assert.deepEqual(
    t.sent,
    ["m1", "m2", "m1", "m2"],
    "a new connection resends unacked",
  );
});

Deno.test("reset cancels a pause from the previous connection", () => {
  const t = setup(2);
  t.pump.pump();
  t.pump.rateLimited("m1", 5000);
  t.pump.reset();
  assert.equal(t.timers[0]?.cancelled, true);
  assert.deepEqual(t.sent.slice(-2), ["m1", "m2"]);
});
