/**
 * The load generator counts what the benchmark reports: every delivery of
 * every message, whether it came alone, in a batch, or echoed raw by the
 * baseline. Run as `deno task bench` runs it, in its own process.
 */

import assert from "node:assert/strict";
import type { SendReport } from "../bench/load.ts";
import { Hub } from "../server/chat/hub.ts";
import { LocalFanout } from "../server/fanout/fanout.ts";
import { createHandler } from "../server/http.ts";
import { MemoryStore } from "../server/store/memory_store.ts";
import { startServer } from "./helpers.ts";

const ROOT = new URL("../", import.meta.url).pathname;

/**
 * Bun, as `deno task bench` finds it (BUN_BIN, then `bun`, then npm), or
 * null when it cannot be had here.
 */
async function findBun(): Promise<string | null> {
  const candidates: [string, string[]][] = [
    ...(Deno.env.get("BUN_BIN")
      ? [[Deno.env.get("BUN_BIN")!, []]] as [
        string,
        string[],
      ][]
      : []),
    ["bun", []],
    ["npx", ["-y", "bun@1.4.5"]],
  ];
  for (const [command, prefix] of candidates) {
    try {
      const output = await new Deno.Command(command, {
        args: [...prefix, "-e", "console.log(process.execPath)"],
        stdout: "piped",
        stderr: "null",
      }).output();
      const path = new TextDecoder().decode(output.stdout).trim().split("\n")
        .at(-1);
      if (output.success && path) return path;
    } catch {
      // Not there; try the next.
    }
  }
  return null;
}

const BUN = await findBun();
if (BUN === null) {
  console.log(
    "NOT RUN: the Bun generator test needs Bun (BUN_BIN, bun on the PATH, or npx bun@1.4.5 from npm); it is reported as ignored.",
  );
}

async function runGenerator(
  args: string[],
  runtime: "deno" | "bun" = "deno",
): Promise<SendReport> {
  const command = runtime === "bun" ? BUN! : Deno.execPath();
  const output = await new Deno.Command(command, {
    args: [
      ...(runtime === "bun" ? [] : ["run", "--allow-net=127.0.0.1"]),
      "bench/load.ts",
      "--timeout",
      "30",
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(output.stdout);
  assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "");
  assert.equal(report.event, "send", stdout);
  return report as SendReport;
}

function assertAllCounted(report: SendReport, clients: number): void {
  assert.ok(report.sent > 0, "something was sent");
  assert.equal(report.connections, clients);
  assert.equal(report.expected, report.sent * clients);
  assert.equal(report.received, report.expected);
  assert.equal(report.lost, 0);
  assert.equal(report.stale, 0);
  assert.equal(report.refused, 0);
  assert.equal(report.latencyMs.count, report.received);
  assert.ok(report.latencyMs.max >= report.latencyMs.p50);
}

Deno.test("the generator counts every chat delivery, batched or not", async () => {
  const server = startServer({
    sendRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
    batchWindowMs: 5,
    busyFramesPerSecond: 0, // every event that can wait is batched
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
  });
  try {
    const clients = 20;
    const report = await runGenerator([
      "--url",
      server.wsUrl,
      "--mode",
      "chat",
      "--clients",
      String(clients),
      "--senders",
      "4",
      "--rate",
      "400",
      "--duration",
      "1",
    ]);
    assertAllCounted(report, clients);
    assert.ok(
      report.frames < report.received,
      `batched: ${report.frames} frames for ${report.received} deliveries`,
    );
  } finally {
    await server.close();
  }
});

Deno.test("the generator counts every raw echo from the baseline server", async () => {
  const baseline = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "bench/baseline_server.ts",
      "--port",
      "0",
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = baseline.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!/listening on \d+/.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`Baseline did not start: ${text}`);
      text += value;
    }
    await reader.cancel();
    const port = /listening on (\d+)/.exec(text)?.[1];
    const clients = 20;
    const report = await runGenerator([
      "--url",
      `ws://127.0.0.1:${port}/`,
      "--mode",
      "raw",
      "--clients",
      String(clients),
      "--senders",
      "4",
      "--rate",
      "200",
      "--duration",
      "1",
    ]);
    assertAllCounted(report, clients);
    assert.equal(report.frames, report.received, "one frame per echo");
  } finally {
    baseline.kill();
    await baseline.status;
  }
});

Deno.test("with several URLs the generator spreads its clients over them and still counts every delivery", async () => {
  // Two hubs sharing one store and one fan-out: one chat on two ports, as
  // instances on one Redis are.
  const store = new MemoryStore();
  const fanout = new LocalFanout();
  const joined = [0, 0];
  const servers = [0, 1].map((i) => {
    const hub = new Hub({
      store,
      fanout,
      sendRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
      log: (_level, message) => {
        if (message.startsWith("joined ")) joined[i]!++;
      },
    });
    const controller = new AbortController();
    const server = Deno.serve(
      { port: 0, hostname: "127.0.0.1", signal: controller.signal },
      createHandler({ hub, maxConnectionsPerAddress: 10_000 }),
    );
    return { hub, controller, server };
  });
  try {
    const clients = 20;
    const report = await runGenerator([
      "--url",
      servers.map((s) => `ws://127.0.0.1:${s.server.addr.port}/`).join(","),
      "--mode",
      "chat",
      "--clients",
      String(clients),
      "--senders",
      "4",
      "--rate",
      "200",
      "--duration",
      "1",
    ]);
    assertAllCounted(report, clients);
    assert.deepEqual(joined, [clients / 2, clients / 2]);
  } finally {
    for (const { hub, controller, server } of servers) {
      hub.closeAll(1001, "test over");
      controller.abort();
      await server.finished;
    }
  }
});

Deno.test({
  name: "under Bun and under Deno the generator counts the same deliveries",
  ignore: BUN === null,
  fn: async () => {
    const server = startServer({
      sendRate: { capacity: 1_000_000, refillPerSecond: 1_000_000 },
      batchWindowMs: 5,
      busyFramesPerSecond: 0,
      schedule: (callback, delayMs) => setTimeout(callback, delayMs),
    });
    try {
      const clients = 30;
      const args = [
        "--url",
        server.wsUrl,
        "--clients",
        String(clients),
        "--senders",
        "3",
        "--rate",
        "300",
        "--duration",
        "1",
      ];
      const underDeno = await runGenerator([...args, "--room", "deno"]);
      const underBun = await runGenerator([...args, "--room", "bun"], "bun");
      assertAllCounted(underDeno, clients);
      assertAllCounted(underBun, clients);
      for (const report of [underDeno, underBun]) {
        assert.equal(report.sent, 300);
        assert.equal(report.received, 300 * clients);
      }
    } finally {
      await server.close();
    }
  },
});
