import assert from "node:assert/strict";
import { ConfigError, parseConfig, parseDuration } from "./config.ts";

function config(args: string[], env: Record<string, string> = {}) {
  const parsed = parseConfig(args, env);
  assert.equal(parsed.help, false);
  if (parsed.help) throw new Error("unreachable");
  return parsed.config;
}

Deno.test("defaults: port 8765, text logs, metrics for this machine, no backups", () => {
  const c = config([]);
  assert.equal(c.port, 8765);
  assert.equal(c.logFormat, "text");
  assert.equal(c.exposeMetrics, false);
  assert.equal(c.backupEveryMs, null);
  assert.equal(c.backupKeep, 24);
  assert.equal(c.db, "./data/chat.db");
});

Deno.test("operations flags are parsed", () => {
  const c = config([
    "--log-format",
    "json",
    "--expose-metrics",
    "--backup-every",
    "30m",
    "--backup-keep",
    "3",
  ]);
  assert.equal(c.logFormat, "json");
  assert.equal(c.exposeMetrics, true);
  assert.equal(c.backupEveryMs, 30 * 60_000);
  assert.equal(c.backupKeep, 3);
  assert.equal(
    config(["--public-url", "https://chat.example.org"]).publicUrl,
    "https://chat.example.org",
  );
});

Deno.test("durations take a unit, and at least a second", () => {
  assert.equal(parseDuration("--x", "90s"), 90_000);
  assert.equal(parseDuration("--x", "1h"), 3_600_000);
  assert.equal(parseDuration("--x", "2d"), 172_800_000);
  for (const bad of ["", "10", "1.5h", "0s", "-1m", "1w", "1 h"]) {
    assert.throws(() => parseDuration("--x", bad), ConfigError, bad);
  }
});

Deno.test("bad values are refused with one clear line", () => {
  const refusals: [string[], RegExp][] = [
    [
      ["--log-format", "xml"],
      /Log format "xml" is not valid: use text or json/,
    ],
    [["--backup-every", "soon"], /--backup-every "soon" is not valid/],
    [["--backup-keep", "0"], /--backup-keep "0" is not valid/],
    [
      ["--retention", "99"],
      /--retention "99" is not valid: use a whole number of at least 100/,
    ],
    [["--backup-every", "1h", "--db", ":memory:"], /needs a database file/],
    [
      ["--backup-every", "1h", "--redis", "redis://127.0.0.1:6379"],
      /back up Redis itself/,
    ],
    [["--port", "70000"], /Port "70000" is not valid/],
    [
      ["--public-url", "chat.example.org"],
      /Public URL "chat.example.org" is not valid/,
    ],
    [["--public-url", "ftp://x"], /Public URL "ftp:\/\/x" is not valid/],
    [["--reuse-port"], /--reuse-port needs --redis/],
    [["--nope"], /Run with --help/],
  ];
  for (const [args, message] of refusals) {
    assert.throws(() => parseConfig(args, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigError, String(error));
      assert.match(error.message, message);
      assert.ok(!error.message.includes("\n"), "one line");
      return true;
    }, args.join(" "));
  }
});

Deno.test("environment variables apply, flags win", () => {
  assert.equal(config([], { PORT: "9000" }).port, 9000);
  assert.equal(config(["--port", "9001"], { PORT: "9000" }).port, 9001);
  assert.equal(config([], { LOG_LEVEL: "debug" }).logLevel, "debug");
});
