/**
 * The one-minute soak in CI: bench/soak.ts as a child process, as
 * `deno task soak --minutes 1` runs it, with 1,000 idle clients and 50
 * senders against the real server. Correctness is asserted; its latency
 * figure is printed, not asserted (speed goals belong to the benchmarks).
 */

import assert from "node:assert/strict";
import type { SoakReport } from "../bench/soak.ts";

/** One minute of load plus joining, draining and teardown, with room to spare. */
const SOAK_TIMEOUT_MS = 150_000;

Deno.test("a one-minute soak: no drops, no gaps, every send acked, flat server memory", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "bench/soak.ts", "--minutes", "1"],
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, SOAK_TIMEOUT_MS);
  const { code, stdout, stderr } = await child.output();
  clearTimeout(timer);
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  const lines = out.split("\n");
  const resultLine = lines.find((line) => line.startsWith("SOAK_RESULT "));
  console.log(
    lines.filter((line) => line && !line.startsWith("SOAK_RESULT ")).join(
      "\n",
    ),
  );
  assert.ok(
    resultLine,
    `The soak printed no result (exit ${code}):\n${out}\n${err}`,
  );
  const report = JSON.parse(
    resultLine.slice("SOAK_RESULT ".length),
  ) as SoakReport;
  // Latency is a speed goal: `deno task soak` holds it to p99 < 100 ms on
  // a quiet machine; here, with other tests' processes around, it is only
  // reported (above), and correctness is what must hold.
  const failures = report.failures.filter((f) => !f.startsWith("p99 latency"));
  assert.deepEqual(failures, []);
  assert.ok(code === 0 || report.failures.length > failures.length, err);
  assert.equal(report.options.idle, 1000);
  assert.equal(report.options.senders, 50);
  assert.equal(report.unexpectedCloses, 0);
  assert.ok(report.latencyMs.p99 < 100);
  assert.ok(report.rss.growthPct < 10);
});
