/**
 * One room as this instance sees it: the sessions that hold names in it
 * (connected here, elsewhere, or resumable), and the wiring that brings its
 * events to the peers connected here. It exposes operations, not its maps.
 * Pure logic: I/O happens only through `Peer`, `RoomLog`, `ChatStore` and
 * `Fanout`; delivery itself is `RoomDelivery`'s job.
 */

import {
  type ChatMessage,
  CLOSE_CODES,
  type Member,
} from "../../protocol/messages.ts";
import { nameSkeleton } from "../../protocol/names.ts";
import type { Fanout, RoomEvent, SessionSync } from "../fanout/fanout.ts";
import type {
  ChatStore,
  Committed,
  RoomLog,
  SessionRecord,
} from "../store/store.ts";
import { ChatMetrics } from "../metrics.ts";
import { type Batching, RoomDelivery } from "./delivery.ts";
import { RoomModeration } from "./moderation.ts";
import type { Peer } from "./peer.ts";

export type { Batching } from "./delivery.ts";

/** Stored `expiresAt` of a connected session: it cannot expire while live. */
export const LIVE_SESSION_EXPIRY = Number.MAX_SAFE_INTEGER;

/**
 * Chat messages delivered here that a welcome being made may still need:
 * those committed after its history was read and before it went live.
 */
const DELIVERED_KEPT = 512;

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
  /** The connection here that owns the session, if any. */
  peer: Peer | null;
  /**
   * The same person's other connections here (more tabs of one browser),
   * each true once welcomed: they get the room's events like `peer` does,
   * and the person leaves only when none of them is left.
   */
  companions: Map<Peer, boolean>;
  /**
   * The instance that last had the session connected: it alone announces
   * the leave. Always this instance without a cluster.
   */
  owner: string;
  /** Connected to another instance right now. */
  connectedElsewhere: boolean;
  /** The owner has its welcome: room events go to it. */
  live: boolean;
  /** When the last connection dropped; meaningful while `peer` is null. */
  disconnectedAt: number;
  /** When a disconnected session stops being resumable. */
  expiresAt: number;
  /** Announced as in the room (joined and not yet announced as left). */
  present: boolean;
  lastTypingAt: number;
}

export function memberOf(session: Session): Member {
  return { id: session.userId, name: session.name };
}

/** Every connection of this person here: the session's, then its tabs'. */
export function peersOf(session: Session): Peer[] {
  const peers = session.peer ? [session.peer] : [];
  for (const companion of session.companions.keys()) peers.push(companion);
  return peers;
}

/**
 * Sends `frame` to every connection of this person here, welcomed or not
 * (an ack, not a room event); returns how many. Allocates nothing: it runs
 * for every message.
 */
export function sendToPerson(session: Session, frame: string): number {
  let sent = 0;
  if (session.peer) {
    session.peer.send(frame);
    sent++;
  }
  for (const companion of session.companions.keys()) {
    companion.send(frame);
    sent++;
  }
  return sent;
}

/** Whether `peer` is one of this person's connections here. */
export function holds(session: Session, peer: Peer): boolean {
  return session.peer === peer || session.companions.has(peer);
}

export class Room {
  readonly name: string;
  readonly log: RoomLog;
  /** Every session that holds a name here: connected, in grace, or resumable. */
  #sessions = new Map<string, Session>();
  #byTokenHash = new Map<string, Session>();
  #bySkeleton = new Map<string, Session>();
  /** When each session was added: the member list's order and cursor. */
  #addedAt = new WeakMap<Session, number>();
  #added = 0;
  /** Work in progress (welcomes being made, sends in flight). */
  #holds = 0;
  #store: ChatStore;
  #fanout: Fanout;
  #delivery: RoomDelivery;
  #stopFollowing: () => void;
  #unsubscribe: () => void;
  /** The last chat messages delivered here, oldest first. */
  #delivered: ChatMessage[] = [];
  #deliveredSeq = 0;
  /** The epoch delivery follows; null until `load`. */
  #epoch: string | null = null;
  /** Epochs replaced here: late messages of theirs are dropped. */
  #retired = new Set<string>();
  /** Welcomes waiting for delivery to reach a seq their history read. */
  #waiting: { seq: number; since: number; wake: (ok: boolean) => void }[] = [];

  /** This instance, to tell its own session updates from others'. */
  readonly instance: string;
  #metrics: ChatMetrics;
  /** Moderators' decisions, kept by the hub beyond this object's life. */
  readonly moderation: RoomModeration;

  constructor(
    name: string,
    store: ChatStore,
    fanout: Fanout,
    batching: Batching | null = null,
    instance = "local",
    metrics: ChatMetrics = new ChatMetrics(),
    moderation: RoomModeration = new RoomModeration(),
  ) {
    this.name = name;
    this.moderation = moderation;
    this.instance = instance;
    this.#metrics = metrics;
    this.#store = store;
    this.#fanout = fanout;
    this.#delivery = new RoomDelivery({
      sendToPeers: (frame, events) => this.#sendToPeers(frame, events),
      size: () => this.#sessions.size,
      online: () => this.listedCount(),
      waited: (ms) => this.#metrics.deliveryStages.wait.observe(ms),
    }, batching);
    this.log = store.openRoom(name);
    this.#stopFollowing = this.log.follow((c) => this.#onCommitted(c));
    this.#unsubscribe = fanout.subscribe(name, (e) => this.#onEvent(e));
  }

  #sendToPeers(frame: string, events: number): void {
    const startedAt = performance.now();
    let sent = 0;
    for (const session of this.#sessions.values()) {
      if (session.live && session.peer) {
        session.peer.send(frame);
        sent++;
      }
      if (session.companions.size === 0) continue;
      for (const [companion, live] of session.companions) {
        if (!live) continue;
        companion.send(frame);
        sent++;
      }
    }
    const metrics = this.#metrics;
    metrics.frames += sent;
    metrics.deliveries += sent * events;
    if (events > 1) metrics.batchFrames += sent;
    metrics.deliveryStages.fanout.observe(performance.now() - startedAt);
  }

  #onCommitted({ epoch, message }: Committed): void {
    if (this.#epoch === null || this.#retired.has(epoch)) return;
    if (epoch !== this.#epoch) this.#startEpoch(epoch, 0);
    if (message.seq <= this.#deliveredSeq) return;
    this.#deliveredSeq = message.seq;
    this.#delivered.push(message);
    if (message.kind === "delete" && message.target !== undefined) {
      // A welcome's catch-up must not hand out what was just deleted.
      const first = this.#delivered[0]?.seq ?? 0;
      const index = message.target - first;
      const kept = this.#delivered[index];
      if (kept?.seq === message.target) {
        this.#delivered[index] = { ...kept, text: "" };
      }
    }
    if (this.#delivered.length > DELIVERED_KEPT * 2) {
      this.#delivered = this.#delivered.slice(-DELIVERED_KEPT);
    }
    this.#delivery.deliver({ type: "chat", message });
    if (this.#waiting.length > 0) {
      const ready = this.#waiting.filter((w) => w.seq <= message.seq);
      this.#waiting = this.#waiting.filter((w) => w.seq > message.seq);
      for (const { wake } of ready) wake(true);
    }
  }

  #onEvent(event: RoomEvent): void {
    switch (event.type) {
      case "session":
        if (event.instance !== this.instance) this.#applySync(event);
        return;
      case "joined":
      case "left":
        this.#delivery.announce(event.type, event.member);
        return;
      case "moderation": {
        // Every instance, this one included, applies the decision; a kick
        // closes the member's connection wherever it is.
        this.moderation.apply(event);
        if (event.action === "clear" && event.epoch !== undefined) {
          this.restartEpoch(event.epoch);
        }
        const session = event.userId === undefined
          ? undefined
          : this.#sessions.get(event.userId);
        if (event.action === "kick" && session) {
          for (const peer of peersOf(session)) {
            peer.close(CLOSE_CODES.kicked, "Kicked by a moderator");
          }
        }
        return;
      }
      default:
        this.#delivery.deliver(event);
    }
  }

  /**
   * The history was lost (a shared store restarted empty): seqs start again
   * under a new epoch. Clients here hold seqs of the old one, so they are
   * sent away to resume, which tells them (`recovered: false`).
   */
  #startEpoch(epoch: string, lastSeq: number): void {
    if (this.#epoch !== null) this.#retired.add(this.#epoch);
    this.#epoch = epoch;
    this.#deliveredSeq = lastSeq;
    this.#delivered = [];
    for (const session of this.#sessions.values()) {
      if (session.live && session.peer) {
        session.peer.close(CLOSE_CODES.goingAway, "History was reset");
      }
      for (const [companion, live] of session.companions) {
        if (live) companion.close(CLOSE_CODES.goingAway, "History was reset");
      }
    }
  }

  /**
   * A moderator cleared the history: what is batched goes out first (the
   * notice saying so), then live clients are sent to resume into the new
   * epoch. Nothing happens if delivery already follows it.
   */
  restartEpoch(epoch: string): void {
    if (epoch === this.#epoch || this.#retired.has(epoch)) return;
    this.flush();
    this.#startEpoch(epoch, 0);
  }

  /** Reads what the room needs before its first welcome. */
  async load(now: number, resumeWindowMs: number): Promise<void> {
    // The read waits until this instance hears the room's channel (in a
    // cluster), so a session changed after the sessions are read below is
    // heard of, and one changed before is in what is read.
    const { epoch, lastSeq } = await this.log.read({ recent: 0 });
    await this.restoreSessions(now, resumeWindowMs);
    this.#epoch ??= epoch;
    if (epoch === this.#epoch) {
      this.#deliveredSeq = Math.max(this.#deliveredSeq, lastSeq);
    }
  }

  /**
   * Another instance changed a session: the copy here follows, so member
   * lists, name checks and resumes see the whole cluster.
   */
  #applySync({ instance, userId, state }: SessionSync): void {
    const known = this.#sessions.get(userId);
    if (!state) {
      if (known) this.#unindex(known);
      return;
    }
    if (!known) {
      this.#index({
        userId,
        name: state.name,
        skeleton: nameSkeleton(state.name),
        tokenHash: state.tokenHash,
        previousTokenHash: state.previousTokenHash,
        peer: null,
        companions: new Map(),
        live: false,
        owner: instance,
        connectedElsewhere: state.connected,
        // Only the owner times the grace period.
        disconnectedAt: 0,
        expiresAt: state.expiresAt,
        present: state.present,
        lastTypingAt: -Infinity,
      });
      return;
    }
    if (!state.connected && known.peer) {
      // Another instance took this session for gone (it could not see this
      // one's heartbeat for a while) but it is connected here: say so.
      this.save(known);
      return;
    }
    if (state.connected && known.peer) {
      // Resumed on another instance: the newest connection wins (tabs on
      // two instances are not one person's companions: see PROTOCOL.md).
      const peers = peersOf(known);
      known.peer = null;
      known.live = false;
      known.companions.clear();
      for (const peer of peers) {
        peer.close(CLOSE_CODES.replaced, "Session resumed elsewhere");
      }
    }
    for (const old of [known.tokenHash, known.previousTokenHash]) {
      if (old) this.#byTokenHash.delete(old);
    }
    known.tokenHash = state.tokenHash;
    known.previousTokenHash = state.previousTokenHash;
    for (const hash of [known.tokenHash, known.previousTokenHash]) {
      if (hash) this.#byTokenHash.set(hash, known);
    }
    if (known.name !== state.name) this.#setName(known, state.name);
    known.owner = instance;
    known.connectedElsewhere = state.connected;
    known.expiresAt = state.expiresAt;
    known.present = state.present;
  }

  /**
   * Re-creates sessions a durable store kept across a restart. They count as
   * present and freshly disconnected, so clients that come back within the
   * grace period cause no leave/join notices.
   */
  async restoreSessions(now: number, resumeWindowMs: number): Promise<void> {
    for (const record of await this.#store.sessionsInRoom(this.name)) {
      if (record.expiresAt <= now) {
        // Expired while no instance had the room loaded: free its name too.
        this.#store.deleteSession(this.name, record.tokenHash);
        this.#store.releaseName(
          this.name,
          record.userId,
          nameSkeleton(record.name),
        );
        continue;
      }
      const known = this.#sessions.get(record.userId);
      if (known) {
        // Two records: the current token and the one before it.
        if (
          !this.#byTokenHash.has(record.tokenHash) &&
          known.previousTokenHash === null
        ) {
          known.previousTokenHash = record.tokenHash;
          this.#byTokenHash.set(record.tokenHash, known);
        }
        continue;
      }
      // Connected to another instance of a cluster: that one owns it.
      const elsewhere = record.owner !== undefined &&
        record.owner !== this.instance &&
        record.expiresAt === LIVE_SESSION_EXPIRY;
      this.#index({
        userId: record.userId,
        name: record.name,
        skeleton: nameSkeleton(record.name),
        tokenHash: record.tokenHash,
        previousTokenHash: null,
        peer: null,
        companions: new Map(),
        live: false,
        owner: record.owner ?? this.instance,
        connectedElsewhere: elsewhere,
        disconnectedAt: now,
        expiresAt: elsewhere
          ? LIVE_SESSION_EXPIRY
          : Math.min(record.expiresAt, now + resumeWindowMs),
        present: record.present ?? true,
        lastTypingAt: -Infinity,
      });
    }
  }

  /** A new session made here. */
  add(session: Session): void {
    this.#index(session);
    this.save(session);
  }

  #index(session: Session): void {
    this.#addedAt.set(session, ++this.#added);
    this.#sessions.set(session.userId, session);
    this.#byTokenHash.set(session.tokenHash, session);
    if (session.previousTokenHash) {
      this.#byTokenHash.set(session.previousTokenHash, session);
    }
    this.#bySkeleton.set(session.skeleton, session);
  }

  #unindex(session: Session): void {
    this.#sessions.delete(session.userId);
    this.#byTokenHash.delete(session.tokenHash);
    if (session.previousTokenHash) {
      this.#byTokenHash.delete(session.previousTokenHash);
    }
    if (this.#bySkeleton.get(session.skeleton) === session) {
      this.#bySkeleton.delete(session.skeleton);
    }
  }

  /** The session's resume window is over: its name is free again. */
  remove(session: Session): void {
    this.#unindex(session);
    for (const hash of [session.tokenHash, session.previousTokenHash]) {
      if (hash) this.#store.deleteSession(this.name, hash);
    }
    this.#store.releaseName(this.name, session.userId, session.skeleton);
    this.publish({
      type: "session",
      instance: this.instance,
      userId: session.userId,
      state: null,
    });
  }

  /** Every session, for the sweep. */
  sessions(): IterableIterator<Session> {
    return this.#sessions.values();
  }

  /** The session of this user, if it holds a name here. */
  sessionOf(userId: string): Session | undefined {
    return this.#sessions.get(userId);
  }

  findByTokenHash(tokenHash: string): Session | undefined {
    return this.#byTokenHash.get(tokenHash);
  }

  /** The session holding a name that looks like `name`, if any. */
  holderOf(name: string): Session | undefined {
    return this.#bySkeleton.get(nameSkeleton(name));
  }

  rename(session: Session, name: string): void {
    this.#setName(session, name);
    this.save(session);
  }

  #setName(session: Session, name: string): void {
    if (this.#bySkeleton.get(session.skeleton) === session) {
      this.#bySkeleton.delete(session.skeleton);
    }
    session.name = name;
    session.skeleton = nameSkeleton(name);
    this.#bySkeleton.set(session.skeleton, session);
  }

  /**
   * Issues a new token hash after a resume with `usedHash`. The token just
   * used stays valid as the previous one; any older one is revoked.
   */
  rotateToken(session: Session, usedHash: string, tokenHash: string): void {
    for (const old of [session.tokenHash, session.previousTokenHash]) {
      if (old && old !== usedHash) {
        this.#byTokenHash.delete(old);
        this.#store.deleteSession(this.name, old);
      }
    }
    session.previousTokenHash = usedHash;
    session.tokenHash = tokenHash;
    this.#byTokenHash.set(tokenHash, session);
    this.save(session);
  }

  /**
   * Persists the session so it survives a restart (durable stores), and
   * tells the other instances serving the room.
   */
  save(session: Session): void {
    const connected = session.peer !== null;
    const expiresAt = connected ? LIVE_SESSION_EXPIRY : session.expiresAt;
    for (const tokenHash of [session.tokenHash, session.previousTokenHash]) {
      if (!tokenHash) continue;
      const record: SessionRecord = {
        tokenHash,
        userId: session.userId,
        name: session.name,
        room: this.name,
        expiresAt,
        owner: this.instance,
        present: session.present,
      };
      this.#store.putSession(record);
    }
    this.publish({
      type: "session",
      instance: this.instance,
      userId: session.userId,
      state: {
        name: session.name,
        tokenHash: session.tokenHash,
        previousTokenHash: session.previousTokenHash,
        expiresAt,
        present: session.present,
        connected,
      },
    });
  }

  /**
   * Resolves (true) once chat messages up to `seq` have been delivered here,
   * so a welcome whose history ends at `seq` can go live without missing or
   * repeating one; false if that did not happen in time (`expireWaits`).
   */
  deliveredThrough(
    epoch: string,
    seq: number,
    now: number,
  ): Promise<boolean> {
    if (epoch !== this.#epoch && !this.#retired.has(epoch)) {
      // The store has moved to a new history since this room last heard.
      this.#startEpoch(epoch, seq);
    }
    if (epoch !== this.#epoch || seq <= this.#deliveredSeq) {
      return Promise.resolve(true);
    }
    return new Promise((wake) => this.#waiting.push({ seq, since: now, wake }));
  }

  /**
   * Gives up on welcomes that waited `maxMs` for delivery (a shared store
   * that went away after the history was read): nothing hangs; those
   * clients are asked to resume.
   */
  expireWaits(now: number, maxMs: number): void {
    const expired = this.#waiting.filter((w) => now - w.since >= maxMs);
    if (expired.length === 0) return;
    this.#waiting = this.#waiting.filter((w) => now - w.since < maxMs);
    for (const { wake } of expired) wake(false);
  }

  /**
   * Attaches a welcomed session to delivery. Events queued for a batch go
   * out first (to the others: the newcomer's history already has them).
   * Returns the messages delivered here after `historySeq`, which the
   * newcomer's history lacks and must be sent after the welcome; null when
   * they are no longer kept here.
   */
  goLive(
    session: Session,
    epoch: string,
    historySeq: number,
    peer: Peer | null = session.peer,
  ): ChatMessage[] | null {
    this.#delivery.flush();
    if (peer !== null && peer !== session.peer) {
      session.companions.set(peer, true);
    } else session.live = true;
    if (epoch !== this.#epoch) return null;
    if (historySeq >= this.#deliveredSeq) return [];
    const first = this.#delivered[0];
    if (!first || first.seq > historySeq + 1) return null;
    return this.#delivered.slice(historySeq + 1 - first.seq);
  }

  /**
   * Up to `limit` listed members who joined after cursor `after`, in the
   * order they joined, and the cursor of the last one. Scans the room (a
   * page is asked for only by someone scrolling the list); holds nothing.
   */
  listedPage(
    after: number,
    limit: number,
  ): { members: Member[]; next: number; more: boolean } {
    const members: Member[] = [];
    let next = after;
    for (const session of this.#sessions.values()) {
      const addedAt = this.#addedAt.get(session) ?? 0;
      if (addedAt <= after || !this.isListed(session)) continue;
      if (members.length === limit) return { members, next, more: true };
      members.push(memberOf(session));
      next = Math.max(next, addedAt);
    }
    return { members, next, more: false };
  }

  /**
   * Whether a member list made now should include `session`: present, or
   * gone with its `left` not yet delivered. Such a leave is still pending
   * in the presence window and may be cancelled by a quick return, in which
   * case nobody will ever hear of it; if it is delivered, it reaches the
   * reader after the list and removes the session there.
   */
  isListed(session: Session): boolean {
    return session.present || this.#delivery.leavePending(session.userId);
  }

  /** How many sessions are listed (announced and not yet announced as left). */
  listedCount(): number {
    let count = 0;
    for (const session of this.#sessions.values()) {
      if (session.present) count++;
    }
    return count;
  }

  /** Tells every instance serving the room, this one included. */
  publish(event: RoomEvent): void {
    this.#fanout.publish(this.name, event);
  }

  /** Announces a join or a leave (coalesced by each instance's delivery). */
  announce(kind: "joined" | "left", member: Member): void {
    this.publish({ type: kind, member });
  }

  /** Sends what is queued here, presence included (at shutdown). */
  flush(): void {
    this.#delivery.flush({ presence: true });
  }

  /** Keeps the room loaded while work for it is in progress. */
  hold(): void {
    this.#holds++;
  }

  /** The work `hold` was for is done. */
  release(): void {
    this.#holds--;
  }

  /**
   * Nothing here needs the room: no session connected here or waiting here
   * for its leave or expiry (sessions of other instances are only copies,
   * read again if the room is loaded again), no work, nothing to send.
   */
  isIdle(): boolean {
    if (this.#holds > 0 || !this.#delivery.isIdle()) return false;
    for (const session of this.#sessions.values()) {
      if (
        session.peer ||
        (session.owner === this.instance && !session.connectedElsewhere)
      ) {
        return false;
      }
    }
    return true;
  }

  dispose(): void {
    this.#stopFollowing();
    this.#unsubscribe();
    for (const { wake } of this.#waiting.splice(0)) wake(false);
    this.#store.releaseRoom(this.name);
  }
}
