/**
 * Faults in a cluster, with real processes only: chat instances started as
 * the user would (`server.ts --redis`), a real redis-server per test on a
 * free port and a temporary directory, and clients that reconnect and
 * resend like the page does. Every process is stopped by PID at the end.
 */

import assert from "node:assert/strict";
import type { ChatMessage } from "../protocol/messages.ts";
import { RedisLink } from "../server/redis/link.ts";
import { RedisStore } from "../server/redis/redis_store.ts";
import { RoomChannels } from "../server/redis/room_channels.ts";
import { type ChatInstance, startChatInstances } from "./process.ts";
import { redisAvailable, startRedis } from "./redis_process.ts";
import { ResilientClient } from "./resilient_client.ts";

const ignore = !redisAvailable();
if (ignore) {
  console.log(
    "NOT RUN: redis-server is not installed (apt-get install redis-server); the cluster fault tests are ignored.",
  );
}

/** The per-user limits are not what these tests are about. */
const FAST_SENDS = ["--send-rate", "1000", "--send-burst", "1000"];

type Instance = ChatInstance;

async function startInstance(
  redisUrl: string,
  args: string[] = [],
): Promise<Instance> {
  const [instance] = await startChatInstances(redisUrl, 1, args);
  return instance!;
}

/** Everything stored in a room, read straight from Redis. */
async function storedMessages(
  redisUrl: string,
  room: string,
): Promise<{ epoch: string; messages: ChatMessage[] }> {
  const link = await RedisLink.connect({ url: redisUrl });
  try {
    const store = new RedisStore({
      link,
      channels: new RoomChannels(link, "chat:", () => {}),
    });
    const history = await store.openRoom(room).read({ recent: 100_000 });
    return { epoch: history.epoch, messages: history.messages };
  } finally {
    await link.close();
  }
}

/**
 * The checks every fault must pass: the store holds each acknowledged
 * message exactly once, seqs 1..N with no hole, and every client saw
 * exactly the stored messages, in seq order, each once.
 */
function assertExactlyOnce(
  stored: ChatMessage[],
  clients: ResilientClient[],
): void {
  stored.forEach((m, i) => assert.equal(m.seq, i + 1, "seqs are contiguous"));
  const keys = new Set<string>();
  for (const m of stored) {
    const key = `${m.from.id}/${m.clientId}`;
    assert.ok(!keys.has(key), `${key} is stored once`);
    keys.add(key);
  }
  for (const client of clients) {
    for (const [id, ack] of client.acks) {
      const copy = stored[ack.seq - 1];
      assert.equal(copy?.clientId, id, `acked ${id} is stored at ${ack.seq}`);
    }
    assert.deepEqual(client.repeated, [], "no message was received twice");
    const seen = [...client.seen.keys()].sort((a, b) => a - b);
    assert.deepEqual(
      seen,
      stored.map((m) => m.seq),
      "every client saw every stored message",
    );
  }
}

Deno.test({
  name:
    "kill -9 of one of three instances while clients stream: every acked message stored once, names kept, one left for the client that never returns",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedis({ appendonly: true });
    const instances: Instance[] = [];
    const clients: ResilientClient[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        instances.push(await startInstance(redis.url, FAST_SENDS));
      }
      const [a, b, c] = instances as [Instance, Instance, Instance];
      const alive = [a, c];
      let next = 0;
      const room = "faults";
      // Two streaming clients per instance; those on B move to A or C.
      const streamers: ResilientClient[] = [];
      for (const home of [a, b, c]) {
        for (let i = 0; i < 2; i++) {
          let first = true;
          const client = new ResilientClient({
            room,
            url: () => {
              if (first) {
                first = false;
                return home.wsUrl;
              }
              return (alive[next++ % alive.length] ?? a).wsUrl;
            },
          });
          streamers.push(client);
        }
      }
      const quitter = new ResilientClient({ room, url: () => b.wsUrl });
      const observer = new ResilientClient({ room, url: () => a.wsUrl });
      clients.push(...streamers, quitter, observer);
      for (const client of clients) client.connect();
      for (const client of clients) {
        await client.until(() => client.connected, "a welcome");
      }
      const namesBefore = streamers.map((s) => s.you?.name);

      // 1,000 messages at about 50 per second, round robin over the
      // streamers; B is killed a third of the way through.
      const total = 1_000;
      let killed = false;
      for (let n = 0; n < total; n++) {
        const sender = streamers[n % streamers.length]!;
        sender.send(`m${n}`, `message ${n}`);
        if (n === Math.floor(total / 3)) {
          quitter.abandon();
          await b.process.stop("SIGKILL");
          killed = true;
        }
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assert.ok(killed);
      for (const client of streamers) {
        await client.until(
          () => client.outbox.size === 0 && client.connected,
          "every send acknowledged",
          30_000,
        );
      }
      // The quitter is announced as left once: the survivor that takes over
      // its session waits for the instance's heartbeat to expire (5 s), then
      // the grace period (10 s).
      const quitterId = quitter.identities[0]?.id ?? "";
      await observer.until(
        () => observer.leftIds().includes(quitterId),
        "the quitter's left",
        30_000,
      );
      const { messages } = await storedMessages(redis.url, room);
      await observer.until(
        () => observer.lastSeq >= messages.length,
        "the observer caught up",
      );
      // Time for a second, wrong, announcement to show up.
      await new Promise((resolve) => setTimeout(resolve, 2_500));

      assert.equal(messages.length, total, "every message stored once");
      assertExactlyOnce(messages, streamers.concat(observer));
      const lefts = observer.leftIds();
      assert.equal(
        lefts.filter((id) => id === quitterId).length,
        1,
        "exactly one left for the quitter",
      );
      for (const streamer of streamers) {
        const ids = new Set(streamer.identities.map((m) => m.id));
        assert.equal(ids.size, 1, "a resume keeps the identity");
        assert.ok(!lefts.includes(streamer.identities[0]!.id), "no left");
      }
      assert.deepEqual(
        streamers.map((s) => s.you?.name),
        namesBefore,
        "names are kept",
      );
      // The clients of B came back on a survivor.
      assert.ok(streamers.slice(2, 4).every((s) => s.closes >= 1));
    } finally {
      for (const client of clients) client.stop();
      for (const instance of instances) await instance.process.stop("SIGKILL");
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "Redis killed with kill -9 and restarted from its append-only file: nothing acked is lost or stored twice",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedis({
      appendonly: true,
      appendfsync: "always",
    });
    const clients: ResilientClient[] = [];
    let instance: Instance | null = null;
    try {
      instance = await startInstance(redis.url, FAST_SENDS);
      const wsUrl = instance.wsUrl;
      const sender = new ResilientClient({ room: "aof", url: () => wsUrl });
      const reader = new ResilientClient({ room: "aof", url: () => wsUrl });
      clients.push(sender, reader);
      for (const client of clients) client.connect();
      for (const client of clients) {
        await client.until(() => client.connected, "a welcome");
      }
      const total = 300;
      for (let n = 0; n < total; n++) {
        sender.send(`m${n}`, `message ${n}`);
        if (n === 150) {
          await redis.kill("SIGKILL");
          await new Promise((resolve) => setTimeout(resolve, 500));
          await redis.restart();
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await sender.until(
        () => sender.outbox.size === 0,
        "every send acknowledged",
        30_000,
      );
      const { messages } = await storedMessages(redis.url, "aof");
      await reader.until(
        () => reader.lastSeq >= messages.length,
        "the reader caught up",
      );
      assert.equal(messages.length, total);
      assertExactlyOnce(messages, clients);
      assert.ok(
        sender.errors.some((e) => e.code === "store_unavailable"),
        "sends during the outage were refused as store_unavailable",
      );
    } finally {
      for (const client of clients) client.stop();
      await instance?.process.stop("SIGKILL");
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "Redis restarted empty: a new epoch, resuming clients get recovered: false, and the chat carries on",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedis({ appendonly: false });
    const clients: ResilientClient[] = [];
    const instances: Instance[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        instances.push(await startInstance(redis.url, FAST_SENDS));
      }
      for (const instance of instances) {
        const client = new ResilientClient({
          room: "amnesia",
          url: () => instance.wsUrl,
        });
        clients.push(client);
        client.connect();
        await client.until(() => client.connected, "a welcome");
      }
      const [one, two] = clients as [ResilientClient, ResilientClient];
      for (let n = 0; n < 5; n++) one.send(`a${n}`, `before ${n}`);
      await two.until(() => two.lastSeq === 5, "the first messages");
      const firstEpoch = two.epoch;

      await redis.kill("SIGKILL");
      await redis.restart();
      one.send("after", "after the restart");
      for (const client of clients) {
        await client.until(
          () =>
            client.welcomes.length >= 2 && client.connected &&
            client.epoch !== firstEpoch,
          "a welcome in the new epoch",
        );
        const welcome = client.welcomes.at(-1)!;
        assert.equal(welcome.resumed, true);
        assert.equal(welcome.recovered, false);
      }
      await one.until(() => one.outbox.size === 0, "the message acked");
      await two.until(() => two.seen.size === 1, "the new message");
      const { epoch, messages } = await storedMessages(redis.url, "amnesia");
      assert.notEqual(epoch, firstEpoch);
      assert.deepEqual(messages.map((m) => [m.seq, m.text]), [
        [1, "after the restart"],
      ]);
      assertExactlyOnce(messages, clients);
      for (const instance of instances) {
        const health = await fetch(`http://127.0.0.1:${instance.port}/healthz`);
        assert.equal(health.status, 200);
        await health.body?.cancel();
      }
    } finally {
      for (const client of clients) client.stop();
      for (const instance of instances) await instance.process.stop("SIGKILL");
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "Redis down for 10 s under traffic: clear refusals, then everything delivered exactly once to every member",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedis({ appendonly: true });
    const clients: ResilientClient[] = [];
    const instances: Instance[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        instances.push(await startInstance(redis.url, FAST_SENDS));
      }
      for (let i = 0; i < 4; i++) {
        const instance = instances[i % 2]!;
        const client = new ResilientClient({
          room: "outage",
          url: () => instance.wsUrl,
        });
        clients.push(client);
        client.connect();
        await client.until(() => client.connected, "a welcome");
      }
      // 10 messages a second for 16 s; Redis is away from 3 s to 13 s.
      const total = 160;
      for (let n = 0; n < total; n++) {
        clients[n % clients.length]!.send(`m${n}`, `message ${n}`);
        if (n === 30) await redis.kill("SIGKILL");
        if (n === 130) await redis.restart();
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      for (const client of clients) {
        await client.until(
          () => client.outbox.size === 0 && client.connected,
          "every send acknowledged",
          30_000,
        );
      }
      const { messages } = await storedMessages(redis.url, "outage");
      for (const client of clients) {
        await client.until(
          () => client.lastSeq >= messages.length,
          "every message delivered",
        );
      }
      assert.equal(messages.length, total);
      assertExactlyOnce(messages, clients);
      const refused = clients.flatMap((c) => c.errors).filter((e) =>
        e.code === "store_unavailable"
      );
      assert.ok(refused.length > 0, "sends were refused while Redis was away");
      assert.ok(refused.every((e) => e.retryAfterMs === 2_000));
    } finally {
      for (const client of clients) client.stop();
      for (const instance of instances) await instance.process.stop("SIGKILL");
      await redis.stop();
    }
  },
});
