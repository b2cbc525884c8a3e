/**
 * Which instances of a cluster are up. Each instance renews a key with a
 * short expiry every second; one that stops (kill -9, a lost machine) is
 * known to be gone once its key expires. The chat core asks synchronously,
 * so answers come from a cache refreshed in the background.
 */

import type { RedisLink } from "./link.ts";
import { ADOPT, ALIVE, HEARTBEAT } from "./scripts.ts";

/** An instance silent for this long is taken to be gone. */
export const INSTANCE_TTL_MS = 5_000;
/** How often an instance renews its key and re-checks the others. */
export const HEARTBEAT_MS = 1_000;

export class Instances {
  readonly self: string;
  #link: RedisLink;
  #prefix: string;
  /** Last known state of the instances asked about. */
  #alive = new Map<string, boolean>();
  #timer: ReturnType<typeof setInterval> | undefined;
  /**
   * Since when this instance's own heartbeats have been succeeding. After
   * Redis was away every key has expired; others are judged only once
   * they have had time to renew theirs.
   */
  #upSince: number | null = null;
  #log: (message: string) => void;

  constructor(
    link: RedisLink,
    prefix: string,
    self: string,
    log: (message: string) => void,
  ) {
    this.#link = link;
    this.#prefix = prefix;
    this.self = self;
    this.#log = log;
  }

  #key(instance: string): string {
    return `${this.#prefix}instance:${instance}`;
  }

  /** Starts the heartbeat (resolves once the first one is written). */
  async start(): Promise<void> {
    await this.#beat();
    this.#timer = setInterval(() => this.#beat(), HEARTBEAT_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #beat(): Promise<void> {
    try {
      await this.#link.run(HEARTBEAT, [this.#key(this.self)], [
        String(INSTANCE_TTL_MS),
      ]);
      const now = Date.now();
      this.#upSince ??= now;
      if (now - this.#upSince < INSTANCE_TTL_MS + HEARTBEAT_MS) return;
      // An instance found gone stays gone (ids are never reused): only
      // those still believed up are asked about again.
      const up = [...this.#alive].filter(([, alive]) => alive);
      await Promise.all(
        up.map(async ([instance]) => {
          const alive = await this.#link.run(ALIVE, [this.#key(instance)], []);
          this.#alive.set(instance, Number(alive) === 1);
        }),
      );
    } catch (error) {
      // Redis is down: nobody's state is known better than before.
      this.#upSince = null;
      this.#log(`heartbeat failed: ${error}`);
    }
  }

  /**
   * Whether `instance` is up, as last checked; an instance not asked about
   * before counts as up until its first check.
   */
  alive(instance: string): boolean {
    if (instance === this.self) return true;
    const known = this.#alive.get(instance);
    if (known === undefined) this.#alive.set(instance, true);
    return known ?? true;
  }

  /**
   * Claims the sessions of `room`'s user `userId` that `dead` left: true
   * for exactly one of the instances that ask.
   */
  async adopt(room: string, userId: string, dead: string): Promise<boolean> {
    const key = `${this.#prefix}{${room}}:adopt:${userId}:${dead}`;
    const won = await this.#link.run(ADOPT, [key], [
      this.self,
      String(10 * 60_000),
    ]);
    return Number(won) === 1;
  }
}
