/**
 * Entry point: parses flags, wires the store, fan-out, hub and HTTP handler,
 * starts the sweep timer and serves. Everything runs under `import.meta.main`
 * so importing this module (tests, tools) starts nothing.
 */

import { CLOSE_CODES } from "./protocol/messages.ts";
import { type ClusterView, Hub } from "./server/chat/hub.ts";
import {
  type Config,
  ConfigError,
  ENV_VARS,
  HELP_TEXT,
  LOG_LEVELS,
  type LogFormat,
  type LogLevel,
  parseConfig,
} from "./server/config.ts";
import { type Fanout, LocalFanout } from "./server/fanout/fanout.ts";
import { Backups } from "./server/backups.ts";
import { createHandler } from "./server/http.ts";
import { ChatMetrics } from "./server/metrics.ts";
import { MemoryStore } from "./server/store/memory_store.ts";
import {
  FixedModeratorKey,
  KEY_HASH_FILE,
  type ModeratorKeys,
  moderatorLink,
  newModeratorKey,
  readKeyFile,
  StoredModeratorKey,
  writeNewKey,
} from "./server/moderator_key.ts";
import { SqliteStore, StoreError } from "./server/store/sqlite_store.ts";
import type { ChatStore } from "./server/store/store.ts";

type Log = (
  level: LogLevel,
  message: string,
  fields?: Record<string, unknown>,
) => void;

/**
 * Lines for people (text) or for log collectors (json: one object per
 * line, with `time`, `level` and `msg`, plus `fields` when given).
 */
function logger(threshold: LogLevel, format: LogFormat) {
  const limit = LOG_LEVELS.indexOf(threshold);
  const write = (level: LogLevel, line: string) => {
    if (level === "error" || level === "warn") console.error(line);
    else console.log(line);
  };
  const log = (
    level: LogLevel,
    message: string,
    fields?: Record<string, unknown>,
  ) => {
    if (LOG_LEVELS.indexOf(level) > limit) return;
    const time = new Date().toISOString();
    write(
      level,
      format === "json"
        ? JSON.stringify({ time, level, msg: message, ...fields })
        : `${time} ${level} ${message}`,
    );
  };
  /**
   * What people starting the chat must see whatever the level (the
   * addresses to open, a fatal error): plain lines, or JSON lines.
   */
  const announce = (
    level: LogLevel,
    lines: string[],
    fields?: Record<string, unknown>,
  ) => {
    if (format === "json") {
      write(
        level,
        JSON.stringify({
          time: new Date().toISOString(),
          level,
          msg: lines[0],
          ...fields,
        }),
      );
    } else {
      for (const line of lines) write(level, line);
    }
  };
  return { log: log satisfies Log, announce };
}

/** The effective configuration, for the start-up line; no secrets. */
function describeConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    redisUrl: config.redisUrl === null ? null : redisLabel(config.redisUrl),
  };
}

/** This machine's LAN addresses, when the chat listens on all of them. */
function lanUrls(host: string, port: number): string[] {
  if (host !== "0.0.0.0" && host !== "::") return [];
  try {
    return Deno.networkInterfaces()
      .filter((nic) => nic.family === "IPv4" && !nic.address.startsWith("127."))
      .map((nic) => `http://${nic.address}:${port}`);
  } catch {
    // No --allow-sys: the page shares the address it was opened with.
    return [];
  }
}

/** The addresses people can open: localhost, then this machine's LAN IPs. */
function urlsToOpen(host: string, port: number): string[] {
  const urls: string[] = [];
  const wildcard = host === "0.0.0.0" || host === "::";
  if (wildcard || host === "127.0.0.1" || host === "localhost") {
    urls.push(`http://localhost:${port}  (this computer)`);
  } else {
    urls.push(`http://${host.includes(":") ? `[${host}]` : host}:${port}`);
  }
  if (wildcard) {
    try {
      for (const nic of Deno.networkInterfaces()) {
        if (nic.family === "IPv4" && !nic.address.startsWith("127.")) {
          urls.push(`http://${nic.address}:${port}  (others on your network)`);
        }
      }
    } catch {
      // No --allow-sys: localhost alone is still useful.
    }
  }
  return urls;
}

/** The directory of a file path ("." for a bare name). */
function dirOf(path: string): string {
  return path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
}

function fail(message: string): never {
  console.error(`Error: ${message}`);
  Deno.exit(1);
}

/** Where rooms live: the store, the fan-out, and what to close at exit. */
interface Backend {
  store: ChatStore;
  fanout: Fanout;
  /** This instance's id and its view of the others, in a cluster. */
  instance?: string;
  cluster?: ClusterView;
  close(): Promise<void>;
}

/** Redis without its password, for messages. */
function redisLabel(url: string): string {
  return url.replace(/\/\/[^@/]*@/g, "//");
}

/**
 * Imports a module of server/redis/ by a computed path. A literal
 * `import("./server/redis/link.ts")` is seen by Deno before the program
 * runs, and `deno run` would then fetch the Redis client from npm at every
 * first start, Redis or not. `deno compile` is told to include the folder
 * (`--include server/redis/` in deno.json).
 */
function loadLazily<T>(file: string): Promise<T> {
  return import(new URL(`./server/redis/${file}`, import.meta.url).href);
}

/**
 * Several instances sharing rooms through Redis. Loaded only when asked
 * for, so the zero-config chat never loads the Redis client.
 */
async function openRedis(
  config: Config & { redisUrl: string },
  log: Log,
): Promise<Backend> {
  const [{ RedisLink, RedisUnavailableError }, { RoomChannels }, stores] =
    await Promise.all([
      loadLazily<typeof import("./server/redis/link.ts")>("link.ts"),
      loadLazily<typeof import("./server/redis/room_channels.ts")>(
        "room_channels.ts",
      ),
      loadLazily<typeof import("./server/redis/redis_store.ts")>(
        "redis_store.ts",
      ),
    ]);
  const [{ RedisFanout }, { Instances }] = await Promise.all([
    loadLazily<typeof import("./server/redis/redis_fanout.ts")>(
      "redis_fanout.ts",
    ),
    loadLazily<typeof import("./server/redis/instances.ts")>("instances.ts"),
  ]);
  let link;
  try {
    link = await RedisLink.connect({ url: config.redisUrl, log });
  } catch (error) {
    if (error instanceof RedisUnavailableError) {
      fail(redisLabel(error.message));
    }
    throw error;
  }
  const channels = new RoomChannels(link, "chat:", (m) => log("warn", m));
  const store = new stores.RedisStore({
    link,
    channels,
    retention: config.retention,
    log,
  });
  const instances = new Instances(
    link,
    "chat:",
    crypto.randomUUID().slice(0, 8),
    (m) => log("warn", m),
  );
  await instances.start();
  return {
    store,
    fanout: new RedisFanout(channels, (m) => log("warn", m)),
    instance: instances.self,
    cluster: instances,
    async close() {
      instances.stop();
      await store.close();
      await link.close();
    },
  };
}

/** Opens the configured store, or exits with one clear line. */
function openStore(
  config: Config,
  log: Log,
  metrics: ChatMetrics,
): MemoryStore | SqliteStore {
  if (config.db === ":memory:") {
    return new MemoryStore({ retention: config.retention });
  }
  const dir = dirOf(config.db);
  try {
    Deno.mkdirSync(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) {
      const reason = error instanceof Deno.errors.NotCapable
        ? "Deno's permissions do not allow it (grant --allow-read and --allow-write for it)"
        : error instanceof Error
        ? error.message
        : String(error);
      fail(`cannot create the data directory "${dir}": ${reason}.`);
    }
  }
  try {
    return new SqliteStore({
      path: config.db,
      sync: config.sync,
      retention: config.retention,
      log,
      onCommit: (ms) => metrics.commitLatency.observe(ms),
    });
  } catch (error) {
    if (error instanceof StoreError) fail(error.message);
    throw error;
  }
}

/**
 * The moderator key the hub checks, and the key to show once if it was
 * just made (first start, or a chat that keeps nothing on disk).
 */
function setUpModeratorKey(
  config: Config,
  log: Log,
): { keys: ModeratorKeys; shownOnce: string | null } {
  if (config.moderatorKeyFile !== null) {
    try {
      return {
        keys: new FixedModeratorKey(readKeyFile(config.moderatorKeyFile)),
        shownOnce: null,
      };
    } catch (error) {
      fail(
        `cannot use --moderator-key-file: ${
          error instanceof Error ? error.message : error
        }.`,
      );
    }
  }
  if (config.db === ":memory:" && config.redisUrl === null) {
    // Nothing is kept on disk, so neither is the key: a new one each start.
    const key = newModeratorKey();
    return { keys: new FixedModeratorKey(key), shownOnce: key };
  }
  const path = moderatorKeyPath(config);
  let shownOnce: string | null = null;
  try {
    Deno.statSync(path);
  } catch {
    shownOnce = writeKeyOrFail(path);
  }
  return {
    keys: new StoredModeratorKey(path, (message) => log("warn", message)),
    shownOnce,
  };
}

/** Where the key's hash is kept: beside the database (or in --data). */
function moderatorKeyPath(config: Config): string {
  const dir = config.redisUrl === null ? dirOf(config.db) : config.dataDir;
  return `${dir}/${KEY_HASH_FILE}`;
}

/** A new key's hash written at `path` (its directory made); the key. */
function writeKeyOrFail(path: string): string {
  try {
    Deno.mkdirSync(dirOf(path), { recursive: true });
    return writeNewKey(path);
  } catch (error) {
    fail(
      `cannot write the moderator key "${path}": ${
        error instanceof Error ? error.message : error
      }.`,
    );
  }
}

/** The link people open to moderate: on the public address when there is one. */
function moderatorLinkFor(config: Config, port: number, key: string): string {
  return moderatorLink(config.publicUrl ?? `http://localhost:${port}/`, key);
}

/** `--new-moderator-link`: a new key replaces the old; the link is printed. */
function renewModeratorLink(config: Config): void {
  const key = writeKeyOrFail(moderatorKeyPath(config));
  console.log(
    `New moderator link (the old one no longer works; keep this one secret):\n  ${
      moderatorLinkFor(config, config.port, key)
    }`,
  );
}

export async function run(config: Config): Promise<Deno.HttpServer> {
  const { log, announce } = logger(config.logLevel, config.logFormat);
  if (config.logFormat === "json") {
    announce("info", ["starting"], { config: describeConfig(config) });
  } else {
    log("info", `starting with ${JSON.stringify(describeConfig(config))}`);
  }
  const metrics = new ChatMetrics();
  let backups: Backups | null = null;
  const backend: Backend = config.redisUrl === null
    ? (() => {
      const store = openStore(config, log, metrics);
      if (store instanceof SqliteStore) {
        backups = new Backups({
          store,
          dir: `${dirOf(config.db)}/backups`,
          keep: config.backupKeep,
          log,
        });
      }
      return { store, fanout: new LocalFanout(), close: () => store.close() };
    })()
    : await openRedis({ ...config, redisUrl: config.redisUrl }, log);
  const { store, fanout, instance, cluster } = backend;
  const moderatorKey = setUpModeratorKey(config, log);
  const hub = new Hub({
    moderatorKeys: moderatorKey.keys,
    store,
    fanout,
    instance,
    cluster,
    log,
    sendRate: {
      capacity: config.sendBurst,
      refillPerSecond: config.sendRate,
    },
    batchWindowMs: config.batchWindowMs,
    schedule: (callback, delayMs) => setTimeout(callback, delayMs),
    metrics,
  });
  let sweptAt = performance.now();
  const sweeper = setInterval(() => {
    const now = performance.now();
    hub.runningLate(now - sweptAt - 1000);
    sweptAt = now;
    hub.sweep();
    // Notices a deleted database file or a disk with room again even when
    // nobody writes.
    store.health();
  }, 1000);
  const backupTimer = backups !== null && config.backupEveryMs !== null
    ? setInterval(() => void backups?.take("scheduled"), config.backupEveryMs)
    : undefined;
  const shutdown = new AbortController();

  let server: Deno.HttpServer;
  let listeningPort = config.port;
  try {
    server = Deno.serve(
      {
        port: config.port,
        hostname: config.host,
        reusePort: config.reusePort,
        signal: shutdown.signal,
        onListen: ({ port }) => {
          listeningPort = port;
          if (config.redisUrl !== null) {
            announce("info", [
              `Sharing rooms through Redis at ${redisLabel(config.redisUrl)}${
                config.reusePort ? " (port shared with other instances)" : ""
              }.`,
            ]);
          }
          const urls = config.publicUrl !== null
            ? [config.publicUrl, ...urlsToOpen(config.host, port)]
            : urlsToOpen(config.host, port);
          announce("info", [
            "Chat is running. Open:",
            ...urls.map((url) => `  ${url}`),
          ], { port, urls: urls.map((url) => url.split(/\s+/)[0]) });
          if (moderatorKey.shownOnce !== null) {
            const link = moderatorLinkFor(config, port, moderatorKey.shownOnce);
            announce("info", [
              "Moderator link (shown this once; anyone who has it can moderate every room; --new-moderator-link makes another):",
              `  ${link}`,
            ], { moderatorLink: link });
          }
        },
        onError: (error) => {
          log("error", `request failed: ${error}`);
          return new Response("Internal server error\n", { status: 500 });
        },
      },
      createHandler({
        hub,
        allowedOrigins: config.allowedOrigins,
        trustProxy: config.trustProxy,
        publicUrl: config.publicUrl ?? undefined,
        maxConnections: config.maxConnections,
        maxConnectionsPerAddress: config.maxConnectionsPerAddress,
        log,
        storeHealth: () => store.health(),
        shareUrls: () =>
          config.publicUrl !== null
            ? [config.publicUrl]
            : lanUrls(config.host, listeningPort),
        exposeMetrics: config.exposeMetrics,
      }),
    );
  } catch (error) {
    clearInterval(sweeper);
    clearInterval(backupTimer);
    if (error instanceof Deno.errors.AddrInUse) {
      fail(
        `port ${config.port} is already in use (is the chat already running?). ` +
          `Stop the other program or pick another port: --port ${
            config.port + 1
          } or PORT=${config.port + 1}.`,
      );
    }
    if (error instanceof Deno.errors.PermissionDenied) {
      fail(
        `not allowed to listen on ${config.host}:${config.port}: ${error.message}`,
      );
    }
    if (error instanceof Deno.errors.AddrNotAvailable) {
      fail(
        `address ${config.host} is not available on this machine; try --host 0.0.0.0.`,
      );
    }
    fail(
      `could not start the server on ${config.host}:${config.port}: ${
        error instanceof Error ? error.message : error
      }`,
    );
  }

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(sweeper);
    clearInterval(backupTimer);
    // Stop accepting first, so nobody joins a chat that is closing.
    shutdown.abort();
    hub.closeAll(CLOSE_CODES.goingAway, "Server restarting");
    await store.flush();
    await backend.close();
    // Peers that never answer the close must not hold the exit.
    await Promise.race([
      server.finished,
      new Promise((resolve) => setTimeout(resolve, 2000)),
    ]);
    Deno.exit(0);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch {
      // Signals unsupported here (Windows lacks SIGTERM); Ctrl-C still ends us.
    }
  }
  if (backups !== null) {
    const onDemand = backups;
    try {
      // `kill -USR2 <pid>`: a snapshot now, kept until deleted by hand.
      Deno.addSignalListener("SIGUSR2", () => {
        if (!stopping) void onDemand.take("manual");
      });
    } catch {
      // No SIGUSR2 here (Windows): scheduled backups still run.
    }
  }
  return server;
}

if (import.meta.main) {
  try {
    // A variable Deno may not read (an older start command) is unset.
    const env = Object.fromEntries(
      ENV_VARS.map((name) => [
        name,
        Deno.permissions.querySync({ name: "env", variable: name }).state ===
            "granted"
          ? Deno.env.get(name)
          : undefined,
      ]),
    );
    const parsed = parseConfig(Deno.args, env);
    if (parsed.help) {
      console.log(HELP_TEXT);
    } else if (parsed.config.newModeratorLink) {
      renewModeratorLink(parsed.config);
    } else {
      await run(parsed.config);
    }
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message);
    throw error;
  }
}
