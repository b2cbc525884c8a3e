/**
 * The chat on a real 3-master Redis Cluster started by the test: rooms land
 * on different shards (their keys carry the `{room}` hash tag), and each
 * room keeps one order and contiguous seqs across two chat instances.
 */

import assert from "node:assert/strict";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";
import { redisAvailable, startRedisCluster } from "./redis_process.ts";
import { ResilientClient } from "./resilient_client.ts";

const ignore = !redisAvailable();
if (ignore) {
  console.log(
    "NOT RUN: redis-server is not installed (apt-get install redis-server); the Redis Cluster test is ignored.",
  );
}

/** The node (by port) that serves the slot of a room's keys. */
async function shardOf(ports: number[], room: string): Promise<number> {
  const decoder = new TextDecoder();
  const slotText = await new Deno.Command("redis-cli", {
    args: ["-p", String(ports[0]), "cluster", "keyslot", `chat:{${room}}:log`],
    stdout: "piped",
  }).output();
  const slot = Number(decoder.decode(slotText.stdout).trim());
  const slots = await new Deno.Command("redis-cli", {
    args: ["-p", String(ports[0]), "--raw", "cluster", "slots"],
    stdout: "piped",
  }).output();
  // --raw prints each range as: start, end, then ip, port, id of its nodes.
  const lines = decoder.decode(slots.stdout).split("\n").map((l) => l.trim());
  for (let i = 0; i + 3 < lines.length; i++) {
    const start = Number(lines[i]);
    const end = Number(lines[i + 1]);
    if (lines[i + 2] !== "127.0.0.1") continue;
    if (slot >= start && slot <= end) return Number(lines[i + 3]);
  }
  throw new Error(`no shard found for slot ${slot}`);
}

Deno.test({
  name:
    "on a 3-master Redis Cluster, rooms spread over shards and each keeps one order across instances",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await startRedisCluster(3);
    const instances: { process: ChatProcess; wsUrl: string }[] = [];
    const clients: ResilientClient[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const process = spawnChat(
          ...serverCommand([
            "--port",
            "0",
            "--redis",
            cluster.url,
            "--send-rate",
            "1000",
            "--send-burst",
            "1000",
          ]),
        );
        instances.push({
          process,
          wsUrl: `ws://127.0.0.1:${await process.port}/ws`,
        });
      }
      const ports = cluster.nodes.map((n) => n.port);
      // Rooms whose keys live on three different shards.
      const rooms: string[] = [];
      const shards = new Set<number>();
      for (let i = 0; rooms.length < 3 && i < 200; i++) {
        const shard = await shardOf(ports, `room-${i}`);
        if (!shards.has(shard)) {
          shards.add(shard);
          rooms.push(`room-${i}`);
        }
      }
      assert.equal(rooms.length, 3, "three rooms on three shards");

      const byRoom = new Map<string, ResilientClient[]>();
      for (const room of rooms) {
        const members = instances.flatMap((instance) =>
          [0, 1].map(() =>
            new ResilientClient({ room, url: () => instance.wsUrl })
          )
        );
        byRoom.set(room, members);
        clients.push(...members);
      }
      for (const client of clients) client.connect();
      for (const client of clients) {
        await client.until(() => client.connected, "a welcome");
      }
      const perClient = 50;
      for (let n = 0; n < perClient; n++) {
        for (const client of clients) {
          client.send(`${client.you?.id}-${n}`, `message ${n}`);
        }
      }
      for (const [room, members] of byRoom) {
        const total = perClient * members.length;
        for (const client of members) {
          await client.until(
            () => client.outbox.size === 0 && client.seen.size === total,
            `every message of ${room}`,
          );
        }
        const reference = members[0]!.order;
        assert.deepEqual(
          reference,
          Array.from({ length: total }, (_, i) => i + 1),
          "contiguous seqs in order",
        );
        const texts = (c: ResilientClient) =>
          c.order.map((seq) => c.seen.get(seq)?.clientId);
        for (const client of members) {
          assert.deepEqual(client.order, reference);
          assert.deepEqual(texts(client), texts(members[0]!));
          assert.deepEqual(client.repeated, []);
        }
      }
    } finally {
      for (const client of clients) client.stop();
      for (const instance of instances) {
        await instance.process.stop("SIGKILL");
      }
      await cluster.stop();
    }
  },
});
