/**
 * Moderation across instances on one Redis: a decision made on one instance
 * holds on the other (mute, kick, lock), a deletion reaches members of both,
 * and clearing the history sends both instances' members into the new
 * epoch. Real processes, real redis-server, one key file per data dir.
 */

import assert from "node:assert/strict";
import { CLOSE_CODES } from "../protocol/messages.ts";
import { TestClient } from "./helpers.ts";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";
import { redisAvailable, startRedis } from "./redis_process.ts";

const ignore = !redisAvailable();
const KEY = "cluster-moderator-key-0123456789abcdef";
const WAIT_MS = 10_000;

Deno.test({
  name:
    "cluster moderation: decisions, deletions and a clear made on one instance hold on the other",
  ignore,
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await startRedis();
    const chats: ChatProcess[] = [];
    const dirs: string[] = [];
    const clients: TestClient[] = [];
    try {
      const urls: string[] = [];
      for (let i = 0; i < 2; i++) {
        const dir = Deno.makeTempDirSync({ prefix: "chat-test-" });
        dirs.push(dir);
        Deno.writeTextFileSync(`${dir}/mod.key`, `${KEY}\n`);
        const chat = spawnChat(...serverCommand([
          "--port",
          "0",
          "--redis",
          redis.url,
          "--moderator-key-file",
          `${dir}/mod.key`,
        ], dir));
        chats.push(chat);
        urls.push(`ws://127.0.0.1:${await chat.port}/ws`);
      }
      const join = async (url: string, hello: Record<string, unknown> = {}) => {
        const client = await TestClient.open(url);
        clients.push(client);
        client.send({ type: "hello", room: "civil", ...hello });
        return { client, welcome: await client.next("welcome", WAIT_MS) };
      };
      const mod = await join(urls[0]!, { moderatorKey: KEY });
      assert.equal(mod.welcome.moderator, true);
      const ana = await join(urls[1]!);
      const bea = await join(urls[1]!);
      await mod.client.until(
        () =>
          mod.client.all("presence").length + mod.client.all("joined").length >
            0,
        "the others' joins heard",
        WAIT_MS,
      );

      // A deletion made on instance A reaches members on instance B.
      ana.client.send({ type: "send", id: "m1", text: "rude" });
      const { seq } = await ana.client.next("ack", WAIT_MS);
      mod.client.send({ type: "delete", id: "d1", target: seq });
      await bea.client.until(
        () => bea.client.all("chat").some((c) => c.message.kind === "delete"),
        "the deletion on the other instance",
        WAIT_MS,
      );

      // A mute decided on A refuses Ana's sends on B.
      mod.client.send({
        type: "moderate",
        action: "mute",
        user: ana.welcome.you.id,
        minutes: 5,
      });
      await ana.client.next("moderated", WAIT_MS);
      ana.client.send({ type: "send", id: "m2", text: "still here" });
      assert.equal((await ana.client.next("error", WAIT_MS)).code, "muted");

      // A lock decided on A keeps newcomers out of B.
      mod.client.send({ type: "moderate", action: "lock" });
      await bea.client.until(
        () => bea.client.all("moderated").some((m) => m.action === "lock"),
        "the lock notice",
        WAIT_MS,
      );
      const stranger = await TestClient.open(urls[1]!);
      clients.push(stranger);
      stranger.send({ type: "hello", room: "civil" });
      assert.equal((await stranger.next("error", WAIT_MS)).code, "room_locked");
      assert.equal((await stranger.closed).code, CLOSE_CODES.locked);

      // A kick decided on A closes Bea's socket on B, and keeps her out.
      mod.client.send({
        type: "moderate",
        action: "kick",
        user: bea.welcome.you.id,
        minutes: 5,
      });
      assert.equal((await bea.client.closed).code, CLOSE_CODES.kicked);
      const beaAgain = await TestClient.open(urls[1]!);
      clients.push(beaAgain);
      beaAgain.send({
        type: "hello",
        room: "civil",
        resumeToken: bea.welcome.resumeToken,
      });
      assert.equal((await beaAgain.next("error", WAIT_MS)).code, "kicked");

      // Clearing on A sends B's members into the new, empty history.
      mod.client.send({ type: "moderate", action: "clear" });
      assert.equal(
        (await ana.client.closed).code,
        CLOSE_CODES.goingAway,
        "sent to resume",
      );
      const anaBack = await join(urls[1]!, {
        resumeToken: ana.welcome.resumeToken,
        epoch: ana.welcome.epoch,
        lastSeq: seq,
      });
      assert.notEqual(anaBack.welcome.epoch, ana.welcome.epoch);
      assert.deepEqual(anaBack.welcome.history, []);
    } finally {
      await Promise.all(clients.map((client) =>
        Promise.race([
          client.close(),
          new Promise((resolve) => setTimeout(resolve, 2_000)),
        ])
      ));
      for (const chat of chats) await chat.stop("SIGKILL");
      await redis.stop();
      for (const dir of dirs) Deno.removeSync(dir, { recursive: true });
    }
  },
});
