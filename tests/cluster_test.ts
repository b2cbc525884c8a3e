/**
 * Several instances are one chat: real chat processes (`server.ts --redis`)
 * on one real redis-server, real WebSocket clients. Each test starts its own
 * processes on free ports and stops them by PID.
 */

import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import {
  type ChatInstance,
  type ChatProcess,
  serverCommand,
  spawnChat,
  startChatInstances,
} from "./process.ts";
import { freePort, redisAvailable, startRedis } from "./redis_process.ts";
import { ResilientClient } from "./resilient_client.ts";

const ignore = !redisAvailable();
if (ignore) {
  console.log(
    "NOT RUN: redis-server is not installed (apt-get install redis-server); the cluster tests are ignored.",
  );
}

const FAST_SENDS = ["--send-rate", "1000", "--send-burst", "1000"];
const SOCKETS = { ignore, sanitizeOps: false, sanitizeResources: false };

type Instance = ChatInstance;

function startInstances(
  redisUrl: string,
  count: number,
  args: string[] = FAST_SENDS,
): Promise<Instance[]> {
  return startChatInstances(redisUrl, count, args);
}

async function stopAll(instances: Instance[]): Promise<void> {
  for (const instance of instances) await instance.process.stop("SIGKILL");
}

Deno.test({
  name:
    "three instances are one chat: every client sees every message once, in one order, with contiguous seqs",
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const instances = await startInstances(redis.url, 3);
    const clients: ResilientClient[] = [];
    try {
      for (let i = 0; i < 9; i++) {
        const instance = instances[i % 3]!;
        clients.push(
          new ResilientClient({ room: "one-chat", url: () => instance.wsUrl }),
        );
      }
      for (const client of clients) client.connect();
      for (const client of clients) {
        await client.until(() => client.connected, "a welcome");
      }
      // One sender on each instance, 300 messages each, interleaved.
      const senders = clients.slice(0, 3);
      const perSender = 300;
      for (let n = 0; n < perSender; n++) {
        for (const [i, sender] of senders.entries()) {
          sender.send(`s${i}-${n}`, `message ${n} from sender ${i}`);
        }
        if (n % 50 === 49) await new Promise((r) => setTimeout(r, 10));
      }
      const total = perSender * senders.length;
      for (const client of clients) {
        await client.until(
          () => client.seen.size === total,
          `all ${total} messages`,
          30_000,
        );
      }
      const reference = clients[0]!.order.map((seq) =>
        clients[0]!.seen.get(seq)?.clientId
      );
      assert.deepEqual(
        clients[0]!.order,
        Array.from({ length: total }, (_, i) => i + 1),
        "contiguous seqs, in order",
      );
      for (const client of clients) {
        assert.deepEqual(client.repeated, [], "each message once");
        assert.deepEqual(
          client.order.map((seq) => client.seen.get(seq)?.clientId),
          reference,
          "the same order everywhere",
        );
      }
      for (const sender of senders) {
        await sender.until(() => sender.acks.size === perSender, "every ack");
        for (const ack of sender.acks.values()) {
          assert.equal(ack.count, 1, "every send acked once");
        }
      }
    } finally {
      for (const client of clients) client.stop();
      await stopAll(instances);
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "names are unique across instances: two claiming one name at the same moment, exactly one wins",
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const instances = await startInstances(redis.url, 2, [
      "--send-rate",
      "1000",
    ]);
    const clients: TestClient[] = [];
    try {
      for (let round = 0; round < 5; round++) {
        const room = `names-${round}`;
        const [a, b] = await Promise.all(
          instances.map((i) => TestClient.join(i.wsUrl, { room })),
        );
        clients.push(a!.client, b!.client);
        a!.client.send({ type: "rename", name: "Same Name" });
        b!.client.send({ type: "rename", name: "Same Name" });
        const outcomes = await Promise.all(
          [a!, b!].map(({ client, welcome }) =>
            outcomeOf(client, welcome.you.id)
          ),
        );
        assert.deepEqual(
          [...outcomes].sort(),
          ["name_taken", "renamed"],
          `round ${round}: ${outcomes}`,
        );
      }
    } finally {
      for (const client of clients) await client.close();
      await stopAll(instances);
      await redis.stop();
    }
  },
});

/** "renamed" once this client's rename is announced, or its error code. */
async function outcomeOf(client: TestClient, id: string): Promise<string> {
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline) {
    if (client.all("renamed").some((r) => r.id === id)) return "renamed";
    const error = client.all("error").at(-1);
    if (error) return error.code;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return "no answer";
}

Deno.test({
  name:
    "a client resumes on another instance with its identity and exactly the messages it missed",
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const [one, two] = await startInstances(redis.url, 2) as [
      Instance,
      Instance,
    ];
    const clients: TestClient[] = [];
    try {
      const ana = await TestClient.join(one.wsUrl, { room: "resume" });
      const bea = await TestClient.join(two.wsUrl, { room: "resume" });
      clients.push(bea.client);
      for (let n = 1; n <= 3; n++) {
        bea.client.send({ type: "send", id: `b${n}`, text: `seen ${n}` });
      }
      let lastSeq = 0;
      while (lastSeq < 3) lastSeq = (await ana.client.next("chat")).message.seq;
      await ana.client.close();
      for (let n = 4; n <= 6; n++) {
        bea.client.send({ type: "send", id: `b${n}`, text: `missed ${n}` });
      }
      // Stored: every one of them acked (earlier acks may still be unread).
      while (!bea.client.all("ack").some((a) => a.id === "b6")) {
        await bea.client.next("ack");
      }
      const again = await TestClient.join(two.wsUrl, {
        room: "resume",
        resumeToken: ana.welcome.resumeToken,
        epoch: ana.welcome.epoch,
        lastSeq,
      });
      clients.push(again.client);
      assert.equal(again.welcome.resumed, true);
      assert.equal(again.welcome.recovered, true);
      assert.deepEqual(again.welcome.you, ana.welcome.you);
      assert.deepEqual(
        again.welcome.history.map((m) => m.text),
        ["missed 4", "missed 5", "missed 6"],
      );
      // Back within the grace period: nobody was told of a leave or a join.
      await bea.client.settle(300);
      assert.deepEqual(
        bea.client.received.filter((m) =>
          (m.type === "left" || m.type === "joined") &&
          m.member.id === ana.welcome.you.id
        ),
        [],
        "no leave and no join for Ana",
      );
    } finally {
      for (const client of clients) await client.close();
      await stopAll([one, two]);
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "a welcome lists the members connected to other instances, and their leaves reach everyone",
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const [one, two] = await startInstances(redis.url, 2) as [
      Instance,
      Instance,
    ];
    const clients: TestClient[] = [];
    try {
      const ana = await TestClient.join(one.wsUrl, { room: "members" });
      const bea = await TestClient.join(two.wsUrl, { room: "members" });
      const cai = await TestClient.join(one.wsUrl, { room: "members" });
      clients.push(ana.client, cai.client);
      assert.deepEqual(
        cai.welcome.members.map((m) => m.id),
        [ana.welcome.you.id, bea.welcome.you.id, cai.welcome.you.id],
      );
      await bea.client.close();
      // The leave comes after the 10 s grace period.
      const left = await cai.client.next("left", 15_000);
      assert.equal(left.member.id, bea.welcome.you.id);
    } finally {
      for (const client of clients) await client.close();
      await stopAll([one, two]);
      await redis.stop();
    }
  },
});

Deno.test({
  name:
    "instances started with --reuse-port share one port, and clients on both are one room",
  ...SOCKETS,
  async fn() {
    const redis = await startRedis();
    const port = freePort();
    const instances: ChatProcess[] = [];
    const clients: TestClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const process = spawnChat(
          ...serverCommand([
            "--port",
            String(port),
            "--reuse-port",
            "--redis",
            redis.url,
          ]),
        );
        instances.push(process);
        assert.equal(await process.port, port);
      }
      const url = `ws://127.0.0.1:${port}/ws`;
      for (let i = 0; i < 20; i++) {
        clients.push((await TestClient.join(url, { room: "shared" })).client);
      }
      // Which instance each client is on: stop one and see who is closed.
      const closedByStop = clients.map(() => false);
      clients.forEach((client, i) =>
        client.closed.then(() => closedByStop[i] = true)
      );
      const survivors = () => clients.filter((_, i) => !closedByStop[i]);
      const a = clients[0]!;
      a.send({ type: "send", id: "hello", text: "one room" });
      for (const client of clients) {
        const chat = await client.next("chat");
        assert.equal(chat.message.text, "one room");
      }
      await instances[0]!.stop("SIGKILL");
      await new Promise((resolve) => setTimeout(resolve, 500));
      const closed = closedByStop.filter(Boolean).length;
      assert.ok(
        closed > 0 && closed < clients.length,
        `connections landed on both instances (${closed} of ${clients.length} were on the stopped one)`,
      );
      assert.ok(survivors().length > 0);
    } finally {
      for (const client of clients) await client.close();
      for (const instance of instances) await instance.stop("SIGKILL");
      await redis.stop();
    }
  },
});
