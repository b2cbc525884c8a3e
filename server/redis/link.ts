/**
 * The connection to Redis (one server, or a Redis Cluster), through the
 * well-kept `redis` package (node-redis). Everything the chat asks of Redis
 * goes through this small surface, so the store and the fan-out never see
 * the client library, and no call can wait forever: a command that has no
 * answer within `COMMAND_TIMEOUT_MS` fails like a refused one.
 */

import { createHash } from "node:crypto";
// Pinned here, not in deno.json's imports: an entry there would make every
// `deno task start` download it, Redis or not (this module is loaded only
// with --redis).
// deno-lint-ignore no-import-prefix
import { createClient, createCluster } from "npm:redis@5.12.4";
import { StoreUnavailableError } from "../store/store.ts";
import type { Script } from "./scripts.ts";

/** How long one command may take before the chat treats Redis as down. */
export const COMMAND_TIMEOUT_MS = 5_000;

/** Reconnection backoff: 100 ms doubling to 2 s, forever. */
function reconnectDelay(retries: number): number {
  return Math.min(100 * 2 ** retries, 2_000);
}

export type ChannelListener = (message: string, channel: string) => void;

/** The part of node-redis this module uses, the same for both clients. */
interface Client {
  connect(): Promise<unknown>;
  close?(): Promise<unknown>;
  quit?(): Promise<unknown>;
  destroy?(): void;
  on(event: string, listener: (...args: unknown[]) => void): unknown;
  evalSha(
    sha: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown>;
  eval(
    script: string,
    options: { keys: string[]; arguments: string[] },
  ): Promise<unknown>;
  hSet(key: string, field: string, value: string): Promise<unknown>;
  hDel(key: string, field: string): Promise<unknown>;
  hVals(key: string): Promise<string[]>;
  sPublish(channel: string, message: string): Promise<unknown>;
  sSubscribe(channel: string, listener: ChannelListener): Promise<unknown>;
  sUnsubscribe(channel: string, listener?: ChannelListener): Promise<unknown>;
  duplicate(): Client;
}

/** Redis could not be reached or did not answer: the caller may retry. */
export class RedisUnavailableError extends StoreUnavailableError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RedisUnavailableError";
  }
}

export interface RedisLinkOptions {
  /** `redis://host:port`; several (comma-separated) mean a Redis Cluster. */
  url: string;
  log?: (level: "info" | "warn", message: string) => void;
}

function sha1(text: string): string {
  return createHash("sha1").update(text).digest("hex");
}

function withTimeout<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new RedisUnavailableError(
            `Redis did not answer ${what} within ${COMMAND_TIMEOUT_MS} ms`,
          ),
        ),
      COMMAND_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Commands and sharded pub/sub on one Redis or one Redis Cluster. */
export class RedisLink {
  readonly url: string;
  #commands: Client;
  /** Standalone Redis needs a second connection in subscriber mode. */
  #subscriber: Client;
  #isCluster: boolean;
  #shas = new Map<Script, string>();
  #log: NonNullable<RedisLinkOptions["log"]>;
  #readyListeners = new Set<() => void>();
  #up = false;
  #closed = false;

  private constructor(url: string, log: RedisLinkOptions["log"]) {
    this.url = url;
    this.#log = log ?? (() => {});
    const urls = url.split(",").map((u) => u.trim()).filter(Boolean);
    this.#isCluster = urls.length > 1 || /[?&]cluster=(1|true|yes)/.test(url);
    const socket = { reconnectStrategy: reconnectDelay, connectTimeout: 2_000 };
    // Without the offline queue a command fails at once while Redis is
    // down, instead of waiting for it: the chat answers "not stored" and
    // the client keeps the message to send again.
    if (this.#isCluster) {
      const cluster = createCluster({
        rootNodes: urls.map((u) => ({ url: u.replace(/[?].*$/, "") })),
        defaults: { socket, disableOfflineQueue: true },
      });
      this.#commands = cluster as unknown as Client;
      this.#subscriber = this.#commands;
    } else {
      const client = createClient({ url, socket, disableOfflineQueue: true });
      this.#commands = client as unknown as Client;
      this.#subscriber = this.#commands.duplicate();
    }
    for (const client of new Set([this.#commands, this.#subscriber])) {
      // node-redis reconnects by itself; an unhandled "error" event would
      // end the process, so every one is logged instead.
      client.on("error", (error) => {
        if (this.#up) this.#log("warn", `Redis: ${error}`);
        this.#up = false;
      });
    }
    this.#subscriber.on("ready", () => {
      const wasUp = this.#up;
      this.#up = true;
      if (!wasUp) this.#log("info", "Redis connection ready");
      for (const listener of this.#readyListeners) listener();
    });
    this.#commands.on("ready", () => {
      this.#up = true;
    });
  }

  /** Connects, or throws with one clear line if Redis cannot be reached. */
  static async connect(options: RedisLinkOptions): Promise<RedisLink> {
    const link = new RedisLink(options.url, options.log);
    try {
      await withTimeout(link.#commands.connect(), "the connection");
      if (link.#subscriber !== link.#commands) {
        await withTimeout(link.#subscriber.connect(), "the connection");
      }
    } catch (error) {
      await link.close();
      throw new RedisUnavailableError(
        `cannot connect to Redis at ${options.url}: ${
          error instanceof Error ? error.message : error
        }. Is redis-server running there?`,
        { cause: error },
      );
    }
    link.#up = true;
    return link;
  }

  /** Whether the last thing heard from Redis was good. */
  get up(): boolean {
    return this.#up;
  }

  /**
   * Called each time the subscriber connection is ready again after a loss:
   * node-redis has resubscribed, and followers fetch what they missed.
   */
  onReady(listener: () => void): () => void {
    this.#readyListeners.add(listener);
    return () => this.#readyListeners.delete(listener);
  }

  /** Runs a script by its SHA1, loading it on first use or after a restart. */
  async run(script: Script, keys: string[], args: string[]): Promise<unknown> {
    let sha = this.#shas.get(script);
    if (!sha) {
      sha = sha1(script.source);
      this.#shas.set(script, sha);
    }
    const options = { keys, arguments: args };
    try {
      return await withTimeout(
        this.#commands.evalSha(sha, options),
        `script ${script.name}`,
      );
    } catch (error) {
      if (!String(error).includes("NOSCRIPT")) throw unavailable(error);
      try {
        return await withTimeout(
          this.#commands.eval(script.source, options),
          `script ${script.name}`,
        );
      } catch (error) {
        throw unavailable(error);
      }
    }
  }

  async hSet(key: string, field: string, value: string): Promise<void> {
    await withTimeout(this.#commands.hSet(key, field, value), "HSET");
  }

  async hDel(key: string, field: string): Promise<void> {
    await withTimeout(this.#commands.hDel(key, field), "HDEL");
  }

  hVals(key: string): Promise<string[]> {
    return withTimeout(this.#commands.hVals(key), "HVALS");
  }

  async publish(channel: string, message: string): Promise<void> {
    await withTimeout(this.#commands.sPublish(channel, message), "SPUBLISH");
  }

  /** Resolves once Redis has confirmed the subscription. */
  async subscribe(channel: string, listener: ChannelListener): Promise<void> {
    await withTimeout(
      this.#subscriber.sSubscribe(channel, listener),
      "SSUBSCRIBE",
    );
  }

  async unsubscribe(channel: string, listener: ChannelListener): Promise<void> {
    await withTimeout(
      this.#subscriber.sUnsubscribe(channel, listener),
      "SUNSUBSCRIBE",
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const client of new Set([this.#subscriber, this.#commands])) {
      try {
        if (client.close) await client.close();
        else if (client.quit) await client.quit();
      } catch {
        client.destroy?.();
      }
    }
  }
}

function unavailable(error: unknown): Error {
  if (error instanceof RedisUnavailableError) return error;
  const text = error instanceof Error ? error.message : String(error);
  // Script errors are bugs, not outages: keep them as they are.
  if (/ERR|WRONGTYPE/.test(text) && !/closed|offline|connect/i.test(text)) {
    return error instanceof Error ? error : new Error(text);
  }
  return new RedisUnavailableError(`Redis is unavailable: ${text}`, {
    cause: error,
  });
}
