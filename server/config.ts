/**
 * Command-line flags and environment variables → a typed `Config`.
 * Pure: takes the arguments and environment as values.
 */

import { parseArgs } from "node:util";

export const LOG_LEVELS = ["error", "warn", "info", "debug"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

export interface Config {
  port: number;
  host: string;
  logLevel: LogLevel;
  /** Directory for the database; created if missing. */
  dataDir: string;
  /** Database file, or ":memory:" for no durability. */
  db: string;
  sync: "normal" | "full";
  /** Messages kept per room. */
  retention: number;
  /** New messages per second per user, sustained. */
  sendRate: number;
  /** Messages a user may send at once before the rate applies. */
  sendBurst: number;
  maxConnections: number;
  maxConnectionsPerAddress: number;
  allowedOrigins: string[];
  trustProxy: boolean;
  /** The address people open, behind a proxy (its origin may connect); null: none. */
  publicUrl: string | null;
  /** Coalescing window for busy rooms, in milliseconds; 0 turns it off. */
  batchWindowMs: number;
  /**
   * Redis to share rooms with other instances (`redis://host:port`, or
   * several comma-separated for a Redis Cluster); null: this process alone,
   * on SQLite.
   */
  redisUrl: string | null;
  /** Listen with SO_REUSEPORT, so several instances share one port. */
  reusePort: boolean;
  /** text: one readable line per event; json: one JSON object per line. */
  logFormat: LogFormat;
  /** Serve /metrics to every address, not only to this machine. */
  exposeMetrics: boolean;
  /** Snapshot the database this often (milliseconds); null: never. */
  backupEveryMs: number | null;
  /** Scheduled snapshots kept; older ones are deleted. */
  backupKeep: number;
  /** A file holding the moderator key (the operator's); null: the data dir's. */
  moderatorKeyFile: string | null;
  /** Make a new moderator link, revoking the old, print it and exit. */
  newModeratorLink: boolean;
}

export const LOG_FORMATS = ["text", "json"] as const;
export type LogFormat = typeof LOG_FORMATS[number];

/** Environment variables read; `start` grants access to these alone. */
export const ENV_VARS = ["PORT", "HOST", "LOG_LEVEL", "REDIS_URL"];

export const DEFAULT_PORT = 8765;
export const DEFAULT_HOST = "0.0.0.0";
export const DEFAULT_DATA_DIR = "./data";
export const DEFAULT_RETENTION = 10_000;

export const HELP_TEXT = `Chat: a real-time group chat in one file.

Usage: chat [flags]

Flags:
  --port N          port to listen on (default ${DEFAULT_PORT}; env PORT)
  --host ADDR       address to bind (default ${DEFAULT_HOST}, every interface;
                    use 127.0.0.1 for this computer only; env HOST)
  --log-level L     error | warn | info | debug (default warn; env LOG_LEVEL)
  --data DIR        directory for the database (default ${DEFAULT_DATA_DIR};
                    created if missing)
  --db PATH         database file (default DIR/chat.db); ":memory:" keeps
                    everything in memory and forgets it on exit
  --sync MODE       normal: survives a crash of the chat (default);
                    full: also survives a power cut, slower
  --retention N     messages kept per room (default ${DEFAULT_RETENTION})
  --send-rate N     messages per second one user may send, sustained
                    (default 1)
  --send-burst N    messages one user may send at once (default 10)
  --max-connections N
                    open connections in all (default 10000)
  --max-per-address N
                    open connections from one address (default 20)
  --allowed-origin URL
                    another origin whose pages may connect, e.g.
                    https://chat.example.org (repeatable; default: none,
                    only the chat's own page)
  --batch-ms N      in a busy room, send the events of N milliseconds to
                    each client as one frame (default 5; 0 turns it off)
  --trust-proxy     behind a reverse proxy: take the client address from
                    X-Forwarded-For and the address the browser used from
                    X-Forwarded-Host/-Proto (default off)
  --public-url URL  the address people open, e.g. https://chat.example.org
                    (behind a proxy: pages from it may connect, and it is
                    the address printed at start)
  --redis URL       share rooms with every instance using this Redis, e.g.
                    redis://127.0.0.1:6379 (env REDIS_URL); a Redis Cluster:
                    several node URLs separated by commas. Messages and
                    sessions then live in Redis, not in the SQLite file
  --reuse-port      let several instances listen on the same port (Linux
                    SO_REUSEPORT; the kernel spreads connections over them);
                    for use with --redis
  --log-format F    text (default) or json: one JSON object per line, for
                    log collectors
  --expose-metrics  serve /metrics (Prometheus) to every address; by
                    default only to this machine
  --backup-every T  snapshot the database into DIR/backups every T
                    (e.g. 30m, 1h, 1d; a running chat is never stopped);
                    kill -USR2 <pid> takes one at any time
  --backup-keep N   scheduled snapshots kept (default 24)
  --new-moderator-link
                    make a new moderator link, print it and exit; the old
                    link stops working, also in a chat that is running
  --moderator-key-file PATH
                    read the moderator key from PATH (first line, at least
                    22 characters) instead of keeping one in DIR
  -h, --help        show this help

Open http://localhost:${DEFAULT_PORT} in a browser; /r/NAME opens room NAME.
`;

/** A problem with the flags, reported as one line without a stack trace. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

export type ParseResult = { help: true } | { help: false; config: Config };

export function parseConfig(
  args: string[],
  env: Record<string, string | undefined>,
): ParseResult {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        "log-level": { type: "string" },
        data: { type: "string" },
        db: { type: "string" },
        sync: { type: "string" },
        retention: { type: "string" },
        "send-rate": { type: "string" },
        "send-burst": { type: "string" },
        "max-connections": { type: "string" },
        "max-per-address": { type: "string" },
        "allowed-origin": { type: "string", multiple: true },
        "trust-proxy": { type: "boolean" },
        "public-url": { type: "string" },
        "batch-ms": { type: "string" },
        redis: { type: "string" },
        "reuse-port": { type: "boolean" },
        "log-format": { type: "string" },
        "expose-metrics": { type: "boolean" },
        "backup-every": { type: "string" },
        "backup-keep": { type: "string" },
        "new-moderator-link": { type: "boolean" },
        "moderator-key-file": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new ConfigError(
      `${error instanceof Error ? error.message : error}. Run with --help.`,
    );
  }
  if (values.help) return { help: true };

  const portText = values.port ?? env["PORT"] ?? String(DEFAULT_PORT);
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new ConfigError(
      `Port "${portText}" is not valid: use a number from 0 to 65535.`,
    );
  }
  const host = values.host ?? env["HOST"] ?? DEFAULT_HOST;
  const level = values["log-level"] ?? env["LOG_LEVEL"] ?? "warn";
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new ConfigError(
      `Log level "${level}" is not valid: use one of ${LOG_LEVELS.join(", ")}.`,
    );
  }
  const dataDir = values.data ?? DEFAULT_DATA_DIR;
  const db = values.db ?? `${dataDir.replace(/\/+$/, "")}/chat.db`;
  const sync = values.sync ?? "normal";
  if (sync !== "normal" && sync !== "full") {
    throw new ConfigError(
      `Sync mode "${sync}" is not valid: use normal or full.`,
    );
  }
  const retention = wholeNumber(
    "--retention",
    values.retention,
    DEFAULT_RETENTION,
    100,
  );
  const redisUrl = values.redis ?? env["REDIS_URL"] ?? null;
  if (redisUrl !== null) {
    for (const url of redisUrl.split(",")) {
      if (!/^rediss?:\/\/[^\s/]+(\/\d*)?(\?[^\s]*)?$/.test(url.trim())) {
        throw new ConfigError(
          `Redis URL "${url.trim()}" is not valid: use redis://host:port, e.g. redis://127.0.0.1:6379.`,
        );
      }
    }
  }
  const reusePort = values["reuse-port"] ?? false;
  if (reusePort && redisUrl === null) {
    throw new ConfigError(
      "--reuse-port needs --redis: instances sharing a port must share their rooms through Redis.",
    );
  }
  const logFormat = values["log-format"] ?? "text";
  if (!(LOG_FORMATS as readonly string[]).includes(logFormat)) {
    throw new ConfigError(
      `Log format "${logFormat}" is not valid: use text or json.`,
    );
  }
  const backupEvery = values["backup-every"];
  const backupEveryMs = backupEvery === undefined
    ? null
    : parseDuration("--backup-every", backupEvery);
  if (backupEveryMs !== null && (redisUrl !== null || db === ":memory:")) {
    throw new ConfigError(
      redisUrl !== null
        ? "--backup-every backs up the SQLite database, which --redis does not use: back up Redis itself (see the README)."
        : '--backup-every needs a database file; --db ":memory:" keeps nothing to back up.',
    );
  }
  const publicUrl = values["public-url"] ?? null;
  if (publicUrl !== null) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(publicUrl);
    } catch {
      // Reported below.
    }
    if (!parsed || !/^https?:$/.test(parsed.protocol)) {
      throw new ConfigError(
        `Public URL "${publicUrl}" is not valid: use http(s)://host[:port], e.g. https://chat.example.org.`,
      );
    }
  }
  const moderatorKeyFile = values["moderator-key-file"] ?? null;
  const newModeratorLink = values["new-moderator-link"] ?? false;
  if (newModeratorLink && moderatorKeyFile !== null) {
    throw new ConfigError(
      "--new-moderator-link makes a key in the data directory; with --moderator-key-file, put a new key in that file instead.",
    );
  }
  const allowedOrigins = values["allowed-origin"] ?? [];
  for (const origin of allowedOrigins) {
    let parsed: URL | null = null;
    try {
      parsed = new URL(origin);
    } catch {
      // Reported below.
    }
    if (!parsed || parsed.origin !== origin) {
      throw new ConfigError(
        `Allowed origin "${origin}" is not valid: use scheme://host[:port], e.g. https://chat.example.org.`,
      );
    }
  }
  return {
    help: false,
    config: {
      port,
      host,
      logLevel: level as LogLevel,
      dataDir,
      db,
      sync,
      retention,
      sendRate: wholeNumber("--send-rate", values["send-rate"], 1, 1),
      sendBurst: wholeNumber("--send-burst", values["send-burst"], 10, 1),
      maxConnections: wholeNumber(
        "--max-connections",
        values["max-connections"],
        10_000,
        1,
      ),
      maxConnectionsPerAddress: wholeNumber(
        "--max-per-address",
        values["max-per-address"],
        20,
        1,
      ),
      allowedOrigins,
      trustProxy: values["trust-proxy"] ?? false,
      publicUrl,
      batchWindowMs: wholeNumber("--batch-ms", values["batch-ms"], 5, 0),
      redisUrl,
      reusePort,
      logFormat: logFormat as LogFormat,
      exposeMetrics: values["expose-metrics"] ?? false,
      backupEveryMs,
      backupKeep: wholeNumber("--backup-keep", values["backup-keep"], 24, 1),
      moderatorKeyFile,
      newModeratorLink,
    },
  };
}

const DURATION_UNITS_MS: Record<string, number> = {
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/** "90s", "30m", "1h", "1d" → milliseconds. */
export function parseDuration(flag: string, text: string): number {
  const match = /^(\d+)([smhd])$/.exec(text);
  const ms = match ? Number(match[1]) * DURATION_UNITS_MS[match[2]!]! : 0;
  if (!match || ms < 1_000 || !Number.isSafeInteger(ms)) {
    throw new ConfigError(
      `${flag} "${text}" is not valid: use a number and a unit, e.g. 90s, 30m, 1h or 1d.`,
    );
  }
  return ms;
}

function wholeNumber(
  flag: string,
  text: string | undefined,
  fallback: number,
  min: number,
): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < min || !Number.isSafeInteger(value)) {
    throw new ConfigError(
      `${flag} "${text}" is not valid: use a whole number of at least ${min}.`,
    );
  }
  return value;
}
