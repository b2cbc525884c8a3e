/**
 * Delivery of one room's events to the peers connected to this instance:
 * presence coalescing and batching of busy rooms. Pure logic: frames leave
 * only through the room's peers, time only through the injected clock and timer.
 * Events reach it from the store's log (chat messages) and from the fan-out
 * (everything else), whichever instance they started on.
 */

import {
  type Member,
  PRESENCE_LISTED,
  type ServerMessage,
} from "../../protocol/messages.ts";

/** How a room coalesces events into batch frames; null turns it off. */
export interface Batching {
  /** Events within this many milliseconds of a frame share the next one. */
  windowMs: number;
  /** Joins and leaves are gathered this long into one announcement. */
  presenceWindowMs: number;
  /**
   * Batching starts when a room's fan-out (events per second × members)
   * reaches this many frames per second; 0 batches whenever events follow
   * each other within the window.
   */
  busyFramesPerSecond: number;
  now: () => number;
  /** Runs `flush` after `delayMs` (a timer at the edge of the core). */
  schedule: (flush: () => void, delayMs: number) => void;
}

/** What delivery needs to know of the room it serves. */
export interface Audience {
  /**
   * Sends a frame to every peer connected here. A callback, not an
   * iterable: this runs for every frame and every member, and a generator
   * would allocate per member.
   */
  sendToPeers(frame: string, events: number): void;
  /** Sessions in the room (all instances): the fan-out a frame costs. */
  size(): number;
  /** Members listed as present, for presence summaries. */
  online(): number;
  /** How long the oldest event of a batch waited for its flush (ms). */
  waited?(ms: number): void;
}

/**
 * A flush that starts this much later than it was due means the event
 * loop is behind: the server is saturated, and longer windows (fewer,
 * fuller frames) are what keeps it up.
 */
const LATE_FLUSH_MS = 3;

export class RoomDelivery {
  #audience: Audience;
  #batching: Batching | null;
  /** Serialised events waiting for the next batch. */
  #queue: string[] = [];
  /** When the first event now in `#queue` was queued (performance.now). */
  #queuedAt = 0;
  #flushPending = false;
  #lastFlushAt = -Infinity;
  /** When the pending flush was due. */
  #dueAt = 0;
  /**
   * The batch window in use: the configured one while the server keeps
   * up, so the oldest event of a batch waits no longer than that; doubled
   * after each flush that started late or whose sends took half a window,
   * up to one millisecond per 50 members; eased back when both are quick.
   */
  #windowMs = 0;
  /** Events delivered in about the last second (exponentially decayed). */
  #eventRate = 0;
  #eventRateAt = 0;
  /** Joins and leaves not yet announced, by user id. */
  #presence = new Map<string, { kind: "joined" | "left"; member: Member }>();
  #presenceScheduled = false;

  constructor(audience: Audience, batching: Batching | null) {
    this.#audience = audience;
    this.#batching = batching;
    this.#windowMs = batching?.windowMs ?? 0;
  }

  /** The window a batch waits at most now, in milliseconds. */
  get windowMs(): number {
    return this.#windowMs;
  }

  /** Whether a leave of `userId` is waiting in the presence window. */
  leavePending(userId: string): boolean {
    return this.#presence.get(userId)?.kind === "left";
  }

  /**
   * A join or a leave. With batching they are gathered for the presence
   * window and announced together: one event for one change, a `presence`
   * summary for several. A join and a leave of the same person within the
   * window cancel out, since nobody saw the change.
   */
  announce(kind: "joined" | "left", member: Member): void {
    const batching = this.#batching;
    if (!batching) {
      this.deliver({ type: kind, member });
      return;
    }
    const pending = this.#presence.get(member.id);
    if (pending && pending.kind !== kind) {
      this.#presence.delete(member.id);
      return;
    }
    this.#presence.set(member.id, { kind, member });
    if (!this.#presenceScheduled) {
      this.#presenceScheduled = true;
      batching.schedule(() => {
        this.#presenceScheduled = false;
        this.deliver(null);
      }, batching.presenceWindowMs);
    }
  }

  /** The pending joins and leaves as one message, or null if none. */
  #takePresence(): ServerMessage | null {
    if (this.#presence.size === 0) return null;
    const changes = [...this.#presence.values()];
    this.#presence.clear();
    const [only] = changes;
    if (changes.length === 1 && only) {
      return { type: only.kind, member: only.member };
    }
    const joined = changes.filter((c) => c.kind === "joined");
    const left = changes.filter((c) => c.kind === "left");
    return {
      type: "presence",
      joined: joined.slice(0, PRESENCE_LISTED).map((c) => c.member),
      left: left.slice(0, PRESENCE_LISTED).map((c) => c.member),
      joinedCount: joined.length,
      leftCount: left.length,
      online: this.#audience.online(),
    };
  }

  /**
   * Serialises once and sends to every peer here. Pending presence goes
   * first, so a newcomer's "joined" precedes their first message; `null`
   * delivers only that. With batching, a room below the busy rate sends
   * every event at once; in a busy room events that follow within the window
   * wait and go out together as one `batch` frame, so it costs each client
   * one frame per window, not one per event.
   */
  deliver(message: ServerMessage | null): void {
    const presence = this.#takePresence();
    if (presence) this.#send(JSON.stringify(presence));
    if (message) this.#send(JSON.stringify(message));
  }

  #send(frame: string): void {
    const batching = this.#batching;
    if (!batching) {
      this.#toPeers(frame, 1);
      return;
    }
    const now = batching.now();
    const size = this.#audience.size();
    // Frames per second this room asks of the server: events/s × members.
    // Below the threshold every event goes out at once, so small or calm
    // rooms never wait for a window.
    this.#eventRate = this.#eventRate *
        Math.exp(-Math.max(0, now - this.#eventRateAt) / 1000) + 1;
    this.#eventRateAt = now;
    const busy = this.#eventRate * size >= batching.busyFramesPerSecond;
    const windowMs = this.#windowMs;
    if (
      !this.#flushPending &&
      (!busy || now - this.#lastFlushAt >= windowMs)
    ) {
      this.#lastFlushAt = now;
      this.#toPeers(frame, 1);
      return;
    }
    if (this.#queue.length === 0) this.#queuedAt = performance.now();
    this.#queue.push(frame);
    if (!this.#flushPending) {
      this.#flushPending = true;
      this.#dueAt = this.#lastFlushAt + windowMs;
      batching.schedule(() => this.flush(), this.#dueAt - now);
    }
  }

  /**
   * Sends queued events now. Before a welcome only the event queue is
   * flushed (so the newcomer's history holds no message it will also
   * receive); pending presence keeps gathering, or a crowd would be
   * announced one person at a time. At shutdown presence goes too.
   */
  flush(options: { presence: boolean } = { presence: false }): void {
    const presence = options.presence ? this.#takePresence() : null;
    if (presence) this.#queue.push(JSON.stringify(presence));
    this.#flushPending = false;
    if (this.#queue.length === 0) return;
    const frames = this.#queue;
    this.#queue = [];
    this.#audience.waited?.(performance.now() - this.#queuedAt);
    const batching = this.#batching;
    const startedAt = batching?.now() ?? 0;
    this.#lastFlushAt = startedAt;
    this.#toPeers(
      frames.length === 1
        ? frames[0] ?? ""
        // Frames are already JSON: splice them in rather than re-serialise.
        : `{"type":"batch","messages":[${frames.join(",")}]}`,
      frames.length,
    );
    if (batching) this.#adapt(batching, startedAt);
  }

  /**
   * Batching costs latency; it buys CPU only when the server is short of
   * it. A flush that started late, or whose sends took half a window, says
   * so: the window doubles, up to 1 ms per 50 members (each window costs a
   * frame per member, so this keeps a busy room near a fixed frame budget).
   * Otherwise it eases back to the configured window.
   */
  #adapt(batching: Batching, startedAt: number): void {
    const late = startedAt - this.#dueAt;
    const sendMs = batching.now() - startedAt;
    const cap = Math.max(batching.windowMs, this.#audience.size() / 50);
    this.#windowMs = late > LATE_FLUSH_MS || sendMs > this.#windowMs / 2
      ? Math.min(cap, this.#windowMs * 2)
      : Math.max(batching.windowMs, this.#windowMs * 0.8);
  }

  #toPeers(frame: string, events: number): void {
    this.#audience.sendToPeers(frame, events);
  }

  /** Nothing is waiting to go out. */
  isIdle(): boolean {
    return this.#queue.length === 0 && this.#presence.size === 0;
  }
}
