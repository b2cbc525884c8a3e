/**
 * Several instances are one chat: real chat processes (`server.ts --redis`)
 * on one real redis-server, real WebSocket clients. Each test starts its own
 * Redis and instances on free ports with temporary directories, and its
 * `finally` stops every process by PID and removes every directory.
 */

import assert from "node:assert/strict";
import type { ServerMessage } from "../protocol/messages.ts";
import { TestClient } from "./helpers.ts";
import {
  type ChatInstance,
  type ChatProcess,
  serverCommand,
  spawnChat,
} from "./process.ts";
import {
  freePort,
  redisAvailable,
  type RedisProcess,
  startRedis,
} from "./redis_process.ts";

const ignore = !redisAvailable();
if (ignore) {
  console.log(
    "NOT RUN: redis-server is not installed (apt-get install redis-server); the cluster tests are ignored.",
  );
}

/** Lifts the per-user send limit (default 1/s, burst 10) for the streams. */
const FAST_SENDS = ["--send-rate", "1000", "--send-burst", "1000"];
/** Messages and the welcome can take a while when 3 processes share a CPU. */
const WAIT_MS = 10_000;
const CLUSTER = { ignore, sanitizeOps: false, sanitizeResources: false };

type Welcome = Extract<ServerMessage, { type: "welcome" }>;

/**
 * What one test started. Each process and directory is recorded the moment
 * it exists, so `stop` cleans up after a test that failed halfway through
 * its setup too.
 */
class Started {
  #redis: RedisProcess[] = [];
  #chats: ChatProcess[] = [];
  #dirs: string[] = [];
  #clients: TestClient[] = [];

  async redis(): Promise<RedisProcess> {
    const redis = await startRedis();
    this.#redis.push(redis);
    return redis;
  }

  /** `server.ts --redis URL` on `port` (a free one by default). */
  async chat(
    redisUrl: string,
    args: string[] = FAST_SENDS,
    port = 0,
  ): Promise<ChatInstance> {
    const dataDir = await Deno.makeTempDir({ prefix: "chat-test-" });
    this.#dirs.push(dataDir);
    const process = spawnChat(...serverCommand(
      ["--port", String(port), "--redis", redisUrl, ...args],
      dataDir,
    ));
    this.#chats.push(process);
    const listening = await process.port;
    return {
      process,
      port: listening,
      wsUrl: `ws://127.0.0.1:${listening}/ws`,
    };
  }

  async chats(
    redisUrl: string,
    count: number,
    args: string[] = FAST_SENDS,
  ): Promise<ChatInstance[]> {
    const instances: ChatInstance[] = [];
    for (let i = 0; i < count; i++) {
      instances.push(await this.chat(redisUrl, args));
    }
    return instances;
  }

  /** Opens a client, says hello and waits for its welcome. */
  async join(
    url: string,
    hello: Record<string, unknown>,
  ): Promise<{ client: TestClient; welcome: Welcome }> {
    const client = await TestClient.open(url);
    this.#clients.push(client);
    client.send({ type: "hello", ...hello });
    return { client, welcome: await client.next("welcome", WAIT_MS) };
  }

  /** Clients, then instances (SIGKILL by PID), then Redis, then directories. */
  async stop(): Promise<void> {
    await Promise.all(this.#clients.map((client) =>
      Promise.race([
        client.close(),
        new Promise((resolve) => setTimeout(resolve, 2_000)),
      ])
    ));
    for (const chat of this.#chats) await chat.stop("SIGKILL");
    for (const redis of this.#redis) await redis.stop();
    for (const dir of this.#dirs) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  }
}

/** Waits for the ack of `id`, leaving every ack in `client.all("ack")`. */
async function ackOf(client: TestClient, id: string): Promise<void> {
  while (!client.all("ack").some((ack) => ack.id === id)) {
    await client.next("ack", WAIT_MS);
  }
}

/**
 * Waits until `client` has been told that member `id` joined: by a `joined`
 * event, or in a `presence` summary when joins came close together.
 */
function hearsJoin(client: TestClient, id: string): Promise<void> {
  return client.until(
    () =>
      client.all("joined").some((j) => j.member.id === id) ||
      client.all("presence").some((p) => p.joined.some((m) => m.id === id)),
    `told that ${id} joined`,
    WAIT_MS,
  );
}

/** Waits until `client` has received `count` chat messages in all. */
async function chatsUntil(client: TestClient, count: number): Promise<void> {
  while (client.all("chat").length < count) {
    await client.next("chat", WAIT_MS);
  }
}

Deno.test({
  name:
    "three instances are one chat: same order, contiguous seqs, each message once",
  ...CLUSTER,
  async fn() {
    const started = new Started();
    try {
      const redis = await started.redis();
      const instances = await started.chats(redis.url, 3);
      const room = "one-chat";
      const clients: TestClient[] = [];
      for (let i = 0; i < 9; i++) {
        const instance = instances[i % 3]!;
        clients.push((await started.join(instance.wsUrl, { room })).client);
      }
      // Clients 0, 1 and 2 are on instances 0, 1 and 2.
      const senders = clients.slice(0, 3);
      const perSender = 300;
      // Paced by acks, not by time: each sender has at most 50 unacked.
      const window = 50;
      for (let start = 0; start < perSender; start += window) {
        for (let n = start; n < start + window; n++) {
          for (const [i, sender] of senders.entries()) {
            sender.send({ type: "send", id: `s${i}-${n}`, text: `${i}:${n}` });
          }
        }
        await Promise.all(
          senders.map((sender, i) =>
            ackOf(sender, `s${i}-${start + window - 1}`)
          ),
        );
      }
      const total = perSender * senders.length;
      await Promise.all(clients.map((client) => chatsUntil(client, total)));

      const everyId = senders.flatMap((_, i) =>
        Array.from({ length: perSender }, (_, n) => `s${i}-${n}`)
      );
      const contiguous = Array.from({ length: total }, (_, i) => i + 1);
      const reference = clients[0]!.all("chat").map((c) => c.message.clientId);
      assert.deepEqual([...reference].sort(), [...everyId].sort());
      for (const [c, client] of clients.entries()) {
        const chats = client.all("chat").map((chat) => chat.message);
        assert.deepEqual(
          chats.map((m) => m.seq),
          contiguous,
          `client ${c}: seqs 1..${total} in order, each once`,
        );
        assert.deepEqual(
          chats.map((m) => m.clientId),
          reference,
          `client ${c}: the same order as client 0`,
        );
        assert.deepEqual(client.all("error"), [], `client ${c}: no errors`);
        assert.equal(client.socket.readyState, WebSocket.OPEN);
      }
      const seqOf = new Map(
        clients[0]!.all("chat").map((c) => [c.message.clientId, c.message.seq]),
      );
      for (const [i, sender] of senders.entries()) {
        const acks = sender.all("ack");
        assert.deepEqual(
          acks.map((ack) => ack.id).sort(),
          everyId.filter((id) => id.startsWith(`s${i}-`)).sort(),
          `sender ${i}: every send acked exactly once`,
        );
        for (const ack of acks) {
          assert.equal(ack.seq, seqOf.get(ack.id), `the seq of ${ack.id}`);
        }
      }
    } finally {
      await started.stop();
    }
  },
});

Deno.test({
  name:
    "names are unique across instances: two claiming one name at the same moment, exactly one wins",
  ...CLUSTER,
  async fn() {
    const started = new Started();
    try {
      const redis = await started.redis();
      const [one, two] = await started.chats(redis.url, 2) as [
        ChatInstance,
        ChatInstance,
      ];
      // A race can go either way, so it is run a few times.
      for (let round = 0; round < 5; round++) {
        const room = `names-${round}`;
        // Each knows of the other before the race: Bea's welcome lists Ana,
        // and Ana has heard Bea join.
        const a = await started.join(one.wsUrl, { room });
        const b = await started.join(two.wsUrl, { room });
        assert.ok(
          b.welcome.members.some((m) => m.id === a.welcome.you.id),
          "Bea's welcome lists Ana",
        );
        await hearsJoin(a.client, b.welcome.you.id);
        const pair = [a, b];
        a.client.send({ type: "rename", name: "Same Name" });
        b.client.send({ type: "rename", name: "Same Name" });
        // Both are in the room, so both hear of the winner's rename.
        const [heardByA, heardByB] = await Promise.all([
          a.client.next("renamed", WAIT_MS),
          b.client.next("renamed", WAIT_MS),
        ]);
        assert.deepEqual(heardByA, heardByB, `round ${round}: one rename`);
        assert.equal(heardByA.to, "Same Name");
        const winner = pair.find((p) => p.welcome.you.id === heardByA.id);
        assert.ok(winner, `round ${round}: the rename is one of the two`);
        const loser = pair.find((p) => p !== winner)!;
        if (loser.client.all("error").length === 0) {
          await loser.client.next("error", WAIT_MS);
        }
        assert.deepEqual(
          loser.client.all("error").map((e) => e.code),
          ["name_taken"],
          `round ${round}: the loser is told the name is taken`,
        );
        assert.deepEqual(
          winner.client.all("error"),
          [],
          "the winner: no error",
        );
        // The room agrees: a newcomer sees one "Same Name" and the loser's
        // old name.
        const newcomer = await started.join(one.wsUrl, { room });
        const names = new Map(
          newcomer.welcome.members.map((m) => [m.id, m.name]),
        );
        assert.equal(names.get(winner.welcome.you.id), "Same Name");
        assert.equal(
          names.get(loser.welcome.you.id),
          loser.welcome.you.name,
          `round ${round}: the loser keeps its name`,
        );
        for (const { client } of pair) {
          assert.equal(
            client.all("renamed").length,
            1,
            `round ${round}: one rename only`,
          );
        }
      }
    } finally {
      await started.stop();
    }
  },
});

Deno.test({
  name:
    "a client resumes on another instance with its identity and the gap filled",
  ...CLUSTER,
  async fn() {
    const started = new Started();
    try {
      const redis = await started.redis();
      const [one, two] = await started.chats(redis.url, 2) as [
        ChatInstance,
        ChatInstance,
      ];
      const room = "resume";
      const ana = await started.join(one.wsUrl, { room });
      const bea = await started.join(two.wsUrl, { room });
      for (let n = 1; n <= 3; n++) {
        bea.client.send({ type: "send", id: `b${n}`, text: `seen ${n}` });
      }
      await chatsUntil(ana.client, 3);
      const lastSeq = ana.client.all("chat").at(-1)!.message.seq;
      assert.equal(lastSeq, 3);
      await ana.client.close();
      for (let n = 4; n <= 6; n++) {
        bea.client.send({ type: "send", id: `b${n}`, text: `missed ${n}` });
      }
      await ackOf(bea.client, "b6");
      const again = await started.join(two.wsUrl, {
        room,
        resumeToken: ana.welcome.resumeToken,
        epoch: ana.welcome.epoch,
        lastSeq,
      });
      assert.equal(again.welcome.resumed, true, "resumed");
      assert.equal(again.welcome.recovered, true, "recovered");
      assert.equal(again.welcome.epoch, ana.welcome.epoch);
      assert.deepEqual(again.welcome.you, ana.welcome.you, "same id and name");
      assert.equal(again.welcome.moreHistory, false);
      assert.deepEqual(
        again.welcome.history.map((m) => [m.seq, m.clientId, m.text]),
        [[4, "b4", "missed 4"], [5, "b5", "missed 5"], [6, "b6", "missed 6"]],
        "history: exactly the missed messages",
      );
      // And it is live on its new instance.
      bea.client.send({ type: "send", id: "b7", text: "after" });
      const live = await again.client.next("chat", WAIT_MS);
      assert.deepEqual([live.message.seq, live.message.text], [7, "after"]);
    } finally {
      await started.stop();
    }
  },
});

Deno.test({
  name: "instances started with --reuse-port share one port and one room",
  ...CLUSTER,
  async fn() {
    const started = new Started();
    try {
      const redis = await started.redis();
      const port = freePort();
      const instances: ChatInstance[] = [];
      for (let i = 0; i < 2; i++) {
        const instance = await started.chat(
          redis.url,
          ["--reuse-port", ...FAST_SENDS],
          port,
        );
        assert.equal(instance.port, port, "both listen on the one port");
        instances.push(instance);
      }
      const url = `ws://127.0.0.1:${port}/ws`;
      const room = "shared";
      const clients: TestClient[] = [];
      for (let i = 0; i < 20; i++) {
        clients.push((await started.join(url, { room })).client);
      }
      const first = clients[0]!;
      first.send({ type: "send", id: "before", text: "one room" });
      for (const client of clients) {
        const chat = await client.next("chat", WAIT_MS);
        assert.equal(chat.message.text, "one room");
      }
      // Which instance each client is on: kill one, then a message sent
      // through the port (now only the other) reaches exactly the clients
      // on the survivor; the others are closed.
      await instances[0]!.process.stop("SIGKILL");
      const probe = await started.join(url, { room });
      probe.client.send({ type: "send", id: "after", text: "still here" });
      const fates = await Promise.all(clients.map(async (client) => {
        try {
          const chat = await client.next("chat", WAIT_MS);
          assert.equal(chat.message.text, "still here");
          return "survivor";
        } catch (error) {
          if (client.socket.readyState === WebSocket.CLOSED) return "killed";
          throw error;
        }
      }));
      const killed = fates.filter((fate) => fate === "killed").length;
      assert.ok(
        killed > 0 && killed < clients.length,
        `connections landed on both instances (${killed} of ${clients.length} were on the killed one)`,
      );
      // The first message came from one instance and reached all 20, so it
      // crossed to clients on the other.
    } finally {
      await started.stop();
    }
  },
});

Deno.test({
  name: "the member list of a welcome includes members on other instances",
  ...CLUSTER,
  async fn() {
    const started = new Started();
    try {
      const redis = await started.redis();
      const [one, two] = await started.chats(redis.url, 2) as [
        ChatInstance,
        ChatInstance,
      ];
      const room = "members";
      const ana = await started.join(one.wsUrl, { room });
      const bea = await started.join(two.wsUrl, { room });
      const cai = await started.join(one.wsUrl, { room });
      assert.equal(cai.welcome.moreMembers, false);
      assert.deepEqual(
        cai.welcome.members.map((m) => m.id).sort(),
        [ana.welcome.you, bea.welcome.you, cai.welcome.you].map((m) => m.id)
          .sort(),
        "the welcome lists Ana (here), Bea (instance 2) and Cai",
      );
      assert.deepEqual(
        cai.welcome.members.find((m) => m.id === bea.welcome.you.id),
        bea.welcome.you,
        "with Bea's name",
      );
    } finally {
      await started.stop();
    }
  },
});
