/**
 * The page against a cluster, in real Chromium: behind Debian's nginx with
 * the README's configuration (taken from the README itself, so the
 * documented configuration is the tested one), and with Redis losing its
 * data. Real processes only, each stopped by PID.
 */

import assert from "node:assert/strict";
import {
  browserTest,
  ENGLISH,
  type Page,
  send,
  snapshot,
  waitFor,
  waitForConnection,
  waitForMessage,
} from "./browser.ts";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";
import { NGINX, type Proxy, readmeBlock, runNginx } from "./proxies.ts";
import { redisAvailable, startRedis } from "./redis_process.ts";

if (!redisAvailable() || !NGINX) {
  console.log(
    "NOT RUN: cluster browser tests need redis-server and nginx (apt-get install redis-server nginx).",
  );
}

/**
 * Runs nginx with the README's server block, pointed at `backends` and
 * listening on a free port.
 */
function startNginx(backends: number[]): Promise<Proxy> {
  return readmeBlock("nginx").then((block) =>
    runNginx((server, port) => {
      const upstreams = [...server.matchAll(/server 127\.0\.0\.1:(\d+);/g)];
      assert.equal(
        upstreams.length,
        backends.length,
        "one upstream per backend",
      );
      upstreams.forEach((match, i) => {
        server = server.replace(
          match[0],
          `server 127.0.0.1:${backends[i]};`,
        );
      });
      return server.replace(/listen \d+;/, `listen 127.0.0.1:${port};`);
    }, block)
  );
}

/** Open WebSocket connections of one instance, from its /healthz. */
async function connectionsOf(port: number): Promise<number> {
  const response = await fetch(`http://127.0.0.1:${port}/healthz`);
  const health = await response.json() as { connections: number };
  return health.connections;
}

function shownTexts(page: Page): Promise<string[]> {
  return snapshot(page).then((s) => s.messages.map((m) => m.text));
}

const clusterReady = redisAvailable() && NGINX !== undefined;

if (clusterReady) {
  browserTest(
    "through nginx, pages on two instances chat; when one instance is killed its page resumes on the other with no duplicate and no marker",
    async (t) => {
      const redis = await startRedis({ appendonly: true });
      t.defer(() => redis.stop());
      const instances: { process: ChatProcess; port: number }[] = [];
      for (let i = 0; i < 2; i++) {
        const process = spawnChat(
          ...serverCommand([
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--trust-proxy",
            "--redis",
            redis.url,
          ]),
        );
        t.defer(() => process.stop("SIGKILL"));
        instances.push({ process, port: await process.port });
      }
      const nginx = await startNginx(instances.map((i) => i.port));
      t.defer(() => nginx.stop());
      const url = `http://127.0.0.1:${nginx.port}/r/behind-nginx`;

      // nginx takes turns: open pages until the two are on different
      // instances (it usually takes one or two tries).
      const ana = await t.openChat(url, ENGLISH);
      await waitForConnection(ana, "open");
      const anaOn = (await Promise.all(
        instances.map((i) => connectionsOf(i.port)),
      )).indexOf(1);
      assert.ok(anaOn >= 0, "Ana's page is on one instance");
      let bea = await t.openChat(url, ENGLISH);
      await waitForConnection(bea, "open");
      for (let tries = 0; tries < 8; tries++) {
        const counts = await Promise.all(
          instances.map((i) => connectionsOf(i.port)),
        );
        if (counts[0] === 1 && counts[1] === 1) break;
        await bea.close();
        // A page load is a fixed number of requests; one more shifts
        // nginx's turn-taking so the next socket goes to the other one.
        const nudge = await fetch(`http://127.0.0.1:${nginx.port}/healthz`);
        await nudge.body?.cancel();
        bea = await t.openChat(url, ENGLISH);
        await waitForConnection(bea, "open");
      }
      const counts = await Promise.all(
        instances.map((i) => connectionsOf(i.port)),
      );
      assert.deepEqual(counts, [1, 1], "one page on each instance");

      await send(ana, "hello from ana");
      await waitForMessage(bea, "hello from ana");
      await send(bea, "hello from bea");
      await waitForMessage(ana, "hello from bea");

      await instances[anaOn]!.process.stop("SIGKILL");
      await waitForConnection(ana, "reconnecting").catch(() => {});
      await ana.locator("#retry-button").click({ timeout: 3000 }).catch(
        () => {},
      );
      await waitForConnection(ana, "open", 20_000);
      await send(ana, "after the failover");
      await waitForMessage(bea, "after the failover");
      await send(bea, "welcome back");
      await waitForMessage(ana, "welcome back");

      const expected = [
        "hello from ana",
        "hello from bea",
        "after the failover",
        "welcome back",
      ];
      for (const page of [ana, bea]) {
        assert.deepEqual(await shownTexts(page), expected);
        const shown = await snapshot(page);
        assert.equal(shown.gapMarkers, 0, "no 'messages may be missing'");
      }
      assert.equal(
        await connectionsOf(instances[1 - anaOn]!.port),
        2,
        "both pages are on the surviving instance",
      );
    },
  );

  browserTest(
    "when Redis comes back empty the page says some messages may be missing, and keeps working",
    async (t) => {
      const redis = await startRedis({ appendonly: false });
      t.defer(() => redis.stop());
      const process = spawnChat(
        ...serverCommand([
          "--port",
          "0",
          "--host",
          "127.0.0.1",
          "--redis",
          redis.url,
        ]),
      );
      t.defer(() => process.stop("SIGKILL"));
      const url = `http://127.0.0.1:${await process.port}/r/amnesia`;
      const ana = await t.openChat(url, ENGLISH);
      await send(ana, "in the old history");
      await waitFor(
        ana,
        "the message to be sent",
        (shown) =>
          shown.messages.some((m) => m.seq !== undefined && !m.pending),
      );

      await redis.kill("SIGKILL");
      await redis.restart();
      await send(ana, "in the new history");
      const shown = await waitFor(
        ana,
        "the gap marker and the new message stored as seq 1",
        (page) =>
          page.gapMarkers === 1 &&
          page.messages.some((m) =>
            m.text === "in the new history" && m.seq === "1" && !m.pending
          ),
        20_000,
      );
      assert.equal(
        shown.messages.filter((m) => m.text === "in the new history").length,
        1,
        "shown once",
      );
      await waitForConnection(ana, "open");
    },
  );

  browserTest(
    "while Redis is down a message shows as sending, then goes out once when Redis is back",
    async (t) => {
      const redis = await startRedis({ appendonly: true });
      t.defer(() => redis.stop());
      const process = spawnChat(
        ...serverCommand([
          "--port",
          "0",
          "--host",
          "127.0.0.1",
          "--redis",
          redis.url,
        ]),
      );
      t.defer(() => process.stop("SIGKILL"));
      const url = `http://127.0.0.1:${await process.port}/r/outage`;
      const ana = await t.openChat(url, ENGLISH);
      const bea = await t.openChat(url, ENGLISH);
      await send(ana, "before the outage");
      await waitForMessage(bea, "before the outage");

      await redis.kill("SIGKILL");
      const during = "typed while Redis was down";
      await send(ana, during);
      await waitFor(
        ana,
        "the message to show as sending",
        (shown) =>
          shown.messages.some((m) => m.text === during && m.pending && m.own),
      );
      // Long enough for the page to have been refused and to retry.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      assert.ok(
        (await snapshot(ana)).messages.some((m) =>
          m.text === during && m.pending
        ),
        "still sending, not failed",
      );
      await redis.restart();
      await waitFor(
        ana,
        "the message to be sent",
        (shown) => shown.messages.some((m) => m.text === during && !m.pending),
        15_000,
      );
      await waitForMessage(bea, during);
      await send(bea, "a fence");
      await waitForMessage(ana, "a fence");
      for (const page of [ana, bea]) {
        assert.deepEqual(await shownTexts(page), [
          "before the outage",
          during,
          "a fence",
        ]);
      }
    },
  );
} else {
  Deno.test({
    name: "cluster browser tests (need redis-server and nginx)",
    ignore: true,
    fn() {},
  });
}
