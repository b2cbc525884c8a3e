/**
 * The Redis store against a real redis-server (one per test, free port,
 * temporary directory): the same contract as memory and SQLite, then what
 * only a shared store must do: several instances appending to one room,
 * followers on other connections, gaps filled after a lost subscription,
 * names claimed by exactly one.
 */

import assert from "node:assert/strict";
import { RedisLink } from "../server/redis/link.ts";
import { RedisStore } from "../server/redis/redis_store.ts";
import { RoomChannels } from "../server/redis/room_channels.ts";
import type { Committed } from "../server/store/store.ts";
import { describeStoreContract } from "../server/store/store_contract.ts";
import { redisAvailable, startRedis } from "./redis_process.ts";

const ignore = !redisAvailable();
if (ignore) {
  console.log(
    "NOT RUN: redis-server is not installed (apt-get install redis-server); the Redis store tests are ignored.",
  );
}

/** node-redis keeps sockets and timers of its own between calls. */
const SOCKETS = { sanitizeOps: false, sanitizeResources: false };

async function connect(url: string, retention?: number) {
  const link = await RedisLink.connect({ url });
  const store = new RedisStore({
    link,
    channels: new RoomChannels(link, "chat:", () => {}),
    ...(retention === undefined ? {} : { retention }),
  });
  return { link, store };
}

describeStoreContract("redis", {
  durable: true,
  testOptions: { ignore, ...SOCKETS },
  async open({ retention }) {
    const redis = await startRedis({ appendonly: true });
    let opened = await connect(redis.url, retention);
    return {
      store: opened.store,
      async reopen() {
        await opened.store.close();
        await opened.link.close();
        opened = await connect(redis.url, retention);
        return opened.store;
      },
      async cleanup() {
        await opened.store.close();
        await opened.link.close();
        await redis.stop();
      },
    };
  },
});

function draft(n: number, author = "u1") {
  return {
    time: n,
    from: { id: author, name: author },
    clientId: `${author}-${n}`,
    text: `text ${n}`,
  };
}

async function until(condition: () => boolean, what: string) {
  const deadline = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

Deno.test({
  name:
    "redis store: two instances appending to one room share one sequence, and each follower hears every message once in order",
  ignore,
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const one = await connect(redis.url);
    const two = await connect(redis.url);
    try {
      const logs = [one.store.openRoom("main"), two.store.openRoom("main")];
      const told: Committed[][] = [[], []];
      logs.forEach((log, i) => log.follow((c) => told[i]!.push(c)));
      await Promise.all(logs.map((log) => log.read({ recent: 0 })));
      const appends = [];
      for (let n = 1; n <= 100; n++) {
        appends.push(logs[n % 2]!.append(draft(n, `u${n % 2}`)));
      }
      const results = await Promise.all(appends);
      assert.deepEqual(
        results.map((r) => r.message.seq).sort((a, b) => a - b),
        Array.from({ length: 100 }, (_, i) => i + 1),
      );
      for (const heard of told) {
        await until(() => heard.length === 100, "100 commits heard");
        assert.deepEqual(
          heard.map((c) => c.message.seq),
          Array.from({ length: 100 }, (_, i) => i + 1),
        );
      }
      assert.deepEqual(
        told[0]!.map((c) => c.message.clientId),
        told[1]!.map((c) => c.message.clientId),
      );
    } finally {
      for (const { link } of [one, two]) await link.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "redis store: a follower whose subscription was cut fills the gap from the stream",
  ignore,
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const writer = await connect(redis.url);
    const reader = await connect(redis.url);
    try {
      const heard: number[] = [];
      const log = reader.store.openRoom("main");
      log.follow((c) => heard.push(c.message.seq));
      await log.read({ recent: 0 });
      const writes = writer.store.openRoom("main");
      for (let n = 1; n <= 5; n++) await writes.append(draft(n));
      await until(() => heard.length === 5, "the first five");
      // Cut every subscriber connection; write while it reconnects.
      await new Deno.Command("redis-cli", {
        args: ["-p", String(redis.port), "client", "kill", "type", "pubsub"],
        stdout: "null",
      }).output();
      for (let n = 6; n <= 20; n++) await writes.append(draft(n));
      await until(() => heard.length === 20, "all twenty");
      assert.deepEqual(heard, Array.from({ length: 20 }, (_, i) => i + 1));
    } finally {
      for (const { link } of [writer, reader]) await link.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "redis store: two instances claiming one name at the same moment: exactly one wins",
  ignore,
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const one = await connect(redis.url);
    const two = await connect(redis.url);
    try {
      for (let round = 0; round < 20; round++) {
        const skeleton = `name-${round}`;
        const results = await Promise.all([
          one.store.claimName({
            room: "main",
            userId: "ana",
            skeleton,
            previous: null,
          }),
          two.store.claimName({
            room: "main",
            userId: "bea",
            skeleton,
            previous: null,
          }),
        ]);
        assert.equal(results.filter(Boolean).length, 1, `round ${round}`);
      }
      // A released name can be claimed by someone else; a rename frees the
      // previous name.
      one.store.releaseName("main", "ana", "name-0");
      two.store.releaseName("main", "bea", "name-0");
      await one.store.flush();
      await two.store.flush();
      assert.equal(
        await two.store.claimName({
          room: "main",
          userId: "bea",
          skeleton: "name-0",
          previous: null,
        }),
        true,
      );
      assert.equal(
        await two.store.claimName({
          room: "main",
          userId: "bea",
          skeleton: "fresh",
          previous: "name-0",
        }),
        true,
      );
      assert.equal(
        await one.store.claimName({
          room: "main",
          userId: "ana",
          skeleton: "name-0",
          previous: null,
        }),
        true,
        "the previous name was freed by the rename",
      );
    } finally {
      for (const { link } of [one, two]) await link.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "redis store: with Redis down an append fails at once as unavailable, and works again when it is back",
  ignore,
  ...SOCKETS,
  async fn() {
    const redis = await startRedis({ appendonly: true });
    const { link, store } = await connect(redis.url);
    try {
      const log = store.openRoom("main");
      await log.append(draft(1));
      await redis.kill("SIGKILL");
      const started = Date.now();
      await assert.rejects(log.append(draft(2)), {
        name: "RedisUnavailableError",
      });
      assert.ok(Date.now() - started < 1_000, "refused at once");
      await redis.restart();
      const deadline = Date.now() + 10_000;
      while (true) {
        try {
          const again = await log.append(draft(2));
          assert.equal(again.message.seq, 2);
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
    } finally {
      await link.close();
      await redis.stop();
    }
  },
});
