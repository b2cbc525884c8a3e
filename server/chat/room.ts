/**
 * One room: its sessions (connected or resumable), the names they hold, its
 * history log, and delivery to its connected peers. Pure logic: I/O happens
 * only through `Peer`, `RoomLog`, `ChatStore` and `Fanout`.
 */

import {
  type ChatMessage,
  type Member,
  PRESENCE_LISTED,
  type ServerMessage,
} from "../../protocol/messages.ts";
import { nameSkeleton } from "../../protocol/names.ts";
import type { Fanout } from "../fanout/fanout.ts";
import type { ChatStore, RoomLog, SessionRecord } from "../store/store.ts";
import type { Peer } from "./peer.ts";

/** Stored `expiresAt` of a connected session: it cannot expire while live. */
export const LIVE_SESSION_EXPIRY = Number.MAX_SAFE_INTEGER;

export interface Session {
  readonly userId: string;
  name: string;
  /** Look-alike-folded name, the key for uniqueness. */
  skeleton: string;
  tokenHash: string;
  /**
   * The token issued before the current one, still accepted until the
   * current one is used: if a welcome is lost in a dropped connection, the
   * client retries with the token it still has and keeps its identity (and
   * so its sent-message ids), instead of resending as a stranger.
   */
  previousTokenHash: string | null;
  /** The connection currently attached, if any. */
  peer: Peer | null;
  /** When the last connection dropped; meaningful while `peer` is null. */
  disconnectedAt: number;
  /** When a disconnected session stops being resumable. */
  expiresAt: number;
  /** Announced as in the room (joined and not yet announced as left). */
  present: boolean;
  lastTypingAt: number;
}

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

export function memberOf(session: Session): Member {
  return { id: session.userId, name: session.name };
}

export class Room {
  readonly name: string;
  readonly log: RoomLog;
  /** Every session that holds a name here: connected, in grace, or resumable. */
  readonly sessions = new Map<string, Session>();
  #byTokenHash = new Map<string, Session>();
  #bySkeleton = new Map<string, Session>();
  /** When each session was added, for `listedAsOfNow`. */
  #addedAt = new WeakMap<Session, number>();
  #added = 0;
  /** Sends in flight (appended, not yet committed), by dedupe key. */
  readonly pending = new Map<string, Promise<ChatMessage>>();
  #store: ChatStore;
  #fanout: Fanout;
  #unsubscribe: () => void;
  #batching: Batching | null;
  /** Serialised events waiting for the next batch. */
  #queue: string[] = [];
  #flushPending = false;
  #lastFlushAt = -Infinity;
  /** Events published in about the last second (exponentially decayed). */
  #eventRate = 0;
  #eventRateAt = 0;
  /** Joins and leaves not yet announced, by user id. */
  #presence = new Map<string, { kind: "joined" | "left"; member: Member }>();
  #presenceScheduled = false;

  constructor(
    name: string,
    store: ChatStore,
    fanout: Fanout,
    batching: Batching | null = null,
  ) {
    this.name = name;
    this.#store = store;
    this.#fanout = fanout;
    this.#batching = batching;
    this.log = store.openRoom(name);
    this.#unsubscribe = fanout.subscribe(name, (frame) => this.#deliver(frame));
  }

  /**
   * Re-creates sessions a durable store kept across a restart. They count as
   * present and freshly disconnected, so clients that come back within the
   * grace period cause no leave/join notices.
   */
  restoreSessions(now: number, resumeWindowMs: number): void {
    for (const record of this.#store.sessionsInRoom(this.name)) {
      if (record.expiresAt <= now) {
        this.#store.deleteSession(record.tokenHash);
        continue;
      }
      const known = this.sessions.get(record.userId);
      if (known) {
        // Two records: the current token and the one before it.
        known.previousTokenHash = record.tokenHash;
        this.#byTokenHash.set(record.tokenHash, known);
        continue;
      }
      this.add({
        userId: record.userId,
        name: record.name,
        skeleton: nameSkeleton(record.name),
        tokenHash: record.tokenHash,
        previousTokenHash: null,
        peer: null,
        disconnectedAt: now,
        expiresAt: Math.min(record.expiresAt, now + resumeWindowMs),
        present: true,
        lastTypingAt: -Infinity,
      });
    }
  }

  add(session: Session): void {
    this.#addedAt.set(session, ++this.#added);
    this.sessions.set(session.userId, session);
    this.#byTokenHash.set(session.tokenHash, session);
    this.#bySkeleton.set(session.skeleton, session);
    this.save(session);
  }

  remove(session: Session): void {
    this.sessions.delete(session.userId);
    this.#byTokenHash.delete(session.tokenHash);
    if (session.previousTokenHash) {
      this.#byTokenHash.delete(session.previousTokenHash);
      this.#store.deleteSession(session.previousTokenHash);
    }
    if (this.#bySkeleton.get(session.skeleton) === session) {
      this.#bySkeleton.delete(session.skeleton);
    }
    this.#store.deleteSession(session.tokenHash);
  }

  findByTokenHash(tokenHash: string): Session | undefined {
    return this.#byTokenHash.get(tokenHash);
  }

  /** The session holding a name that looks like `name`, if any. */
  holderOf(name: string): Session | undefined {
    return this.#bySkeleton.get(nameSkeleton(name));
  }

  rename(session: Session, name: string): void {
    if (this.#bySkeleton.get(session.skeleton) === session) {
      this.#bySkeleton.delete(session.skeleton);
    }
    session.name = name;
    session.skeleton = nameSkeleton(name);
    this.#bySkeleton.set(session.skeleton, session);
    this.save(session);
  }

  /**
   * Issues a new token hash after a resume with `usedHash`. The token just
   * used stays valid as the previous one; any older one is revoked.
   */
  rotateToken(session: Session, usedHash: string, tokenHash: string): void {
    for (const old of [session.tokenHash, session.previousTokenHash]) {
      if (old && old !== usedHash) {
        this.#byTokenHash.delete(old);
        this.#store.deleteSession(old);
      }
    }
    session.previousTokenHash = usedHash;
    session.tokenHash = tokenHash;
    this.#byTokenHash.set(tokenHash, session);
    this.save(session);
  }

  /** Persists the session so it survives a restart (durable stores). */
  save(session: Session): void {
    for (const tokenHash of [session.tokenHash, session.previousTokenHash]) {
      if (!tokenHash) continue;
      const record: SessionRecord = {
        tokenHash,
        userId: session.userId,
        name: session.name,
        room: this.name,
        expiresAt: session.peer ? LIVE_SESSION_EXPIRY : session.expiresAt,
      };
      this.#store.putSession(record);
    }
  }

  /**
   * The listed sessions, in the order they first joined, read lazily: only
   * sessions added by now are visited, and each is checked for being listed
   * when it is reached, so one who leaves meanwhile is skipped. Holding it
   * costs a Map iterator, not a copy of a big room's list.
   */
  listedAsOfNow(): Iterator<Session> {
    // Read now: a generator's body only runs at its first `next()`.
    return this.#listedUpTo(this.#added);
  }

  *#listedUpTo(last: number): Generator<Session> {
    for (const session of this.sessions.values()) {
      if ((this.#addedAt.get(session) ?? Infinity) > last) return;
      if (this.isListed(session)) yield session;
    }
  }

  /**
   * Whether a member list made now should include `session`: present, or
   * gone with its `left` not yet published. Such a leave is still pending
   * in the presence window and may be cancelled by a quick return, in which
   * case nobody will ever hear of it; if it is published, it reaches the
   * reader after the list and removes the session there.
   */
  isListed(session: Session): boolean {
    return session.present ||
      this.#presence.get(session.userId)?.kind === "left";
  }

  /** How many sessions are listed (announced and not yet announced as left). */
  listedCount(): number {
    let count = 0;
    for (const session of this.sessions.values()) {
      if (session.present) count++;
    }
    return count;
  }

  /**
   * Announces a join or a leave. With batching they are gathered for the
   * presence window and announced together: one event for one change, a
   * `presence` summary for several. A join and a leave of the same person
   * within the window cancel out, since nobody saw the change.
   */
  announce(kind: "joined" | "left", member: Member): void {
    const batching = this.#batching;
    if (!batching) {
      this.publish({ type: kind, member });
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
        this.publish(null);
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
      online: this.listedCount(),
    };
  }

  /**
   * Serialises once and hands the frame to every subscriber of the room.
   * With batching, a room below the busy rate sends every event at once; in a
   * busy room events that follow within the window wait and go out together
   * as one `batch` frame, so it costs each client one frame per window, not
   * one per event (see `#send`).
   */
  publish(message: ServerMessage | null): void {
    // Pending presence goes first, so a newcomer's "joined" precedes their
    // first message; `null` publishes only that.
    const presence = this.#takePresence();
    if (presence) this.#send(JSON.stringify(presence));
    if (message) this.#send(JSON.stringify(message));
  }

  #send(frame: string): void {
    const batching = this.#batching;
    if (!batching) {
      this.#fanout.publish(this.name, frame);
      return;
    }
    const now = batching.now();
    // Frames per second this room asks of the server: events/s × members.
    // Below the threshold every event goes out at once, so small or calm
    // rooms never wait for a window.
    this.#eventRate = this.#eventRate *
        Math.exp(-Math.max(0, now - this.#eventRateAt) / 1000) + 1;
    this.#eventRateAt = now;
    const busy = this.#eventRate * this.sessions.size >=
      batching.busyFramesPerSecond;
    // A bigger room gets a longer window: each window costs one frame per
    // member, so this keeps a busy room near a fixed frame budget.
    const windowMs = Math.max(batching.windowMs, this.sessions.size / 50);
    if (
      !this.#flushPending &&
      (!busy || now - this.#lastFlushAt >= windowMs)
    ) {
      this.#lastFlushAt = now;
      this.#fanout.publish(this.name, frame);
      return;
    }
    this.#queue.push(frame);
    if (!this.#flushPending) {
      this.#flushPending = true;
      batching.schedule(
        () => this.flush(),
        this.#lastFlushAt + windowMs - now,
      );
    }
  }

  /**
   * Sends queued events now. Before a welcome only the event queue is
   * flushed (so the newcomer's history holds no message it will also receive);
   * pending presence keeps gathering, or a crowd would be announced one
   * person at a time. At shutdown presence goes too.
   */
  flush(options: { presence: boolean } = { presence: false }): void {
    const presence = options.presence ? this.#takePresence() : null;
    if (presence) this.#queue.push(JSON.stringify(presence));
    this.#flushPending = false;
    if (this.#queue.length === 0) return;
    const frames = this.#queue;
    this.#queue = [];
    this.#lastFlushAt = this.#batching?.now() ?? 0;
    this.#fanout.publish(
      this.name,
      frames.length === 1
        ? frames[0] ?? ""
        // Frames are already JSON: splice them in rather than re-serialise.
        : `{"type":"batch","messages":[${frames.join(",")}]}`,
    );
  }

  #deliver(frame: string): void {
    for (const session of this.sessions.values()) {
      session.peer?.send(frame);
    }
  }

  isIdle(): boolean {
    return this.sessions.size === 0 && this.pending.size === 0 &&
      this.#queue.length === 0 && this.#presence.size === 0;
  }

  dispose(): void {
    this.#unsubscribe();
    this.#store.releaseRoom(this.name);
  }
}
