/**
 * The chat core: connections, rooms and sessions, and the dispatch of each
 * client message to its handler (one module per message type in
 * `handlers/`; `hello`, which makes sessions, is the hub's own). No
 * sockets, timers or files: the WebSocket edge calls
 * `connect`/`receive`/`disconnect`, the entry point calls `sweep` on a timer,
 * and everything else goes through `Peer`, `ChatStore` and `Fanout`.
 */

import { createHash } from "node:crypto";
import {
  type ChatMessage,
  type ClientMessage,
  CLOSE_CODES,
  type HelloMessage,
  HISTORY_FRAME_CHARS,
  HISTORY_ON_JOIN,
  MEMBERS_PER_FRAME,
  normalizeRoomName,
  PROTOCOL_VERSION,
  ProtocolError,
  type ServerMessage,
  type WelcomeMessage,
} from "../../protocol/messages.ts";
import { nameSkeleton } from "../../protocol/names.ts";
import type { Fanout } from "../fanout/fanout.ts";
import { ChatMetrics } from "../metrics.ts";
import { type ChatStore, STORE_RETRY_MS } from "../store/store.ts";
import type { Peer } from "./peer.ts";
import { type Batching, holds, memberOf, Room, type Session } from "./room.ts";
import { type BucketRule, TokenBucket } from "./rate_limit.ts";
import {
  type ChatContext,
  type Connection,
  type Handler,
  type SessionLimits,
} from "./handlers/common.ts";
import { handleSend } from "./handlers/send.ts";
import { handleChange } from "./handlers/change.ts";
import { handleModerate } from "./handlers/moderate.ts";
import { handleRename } from "./handlers/rename.ts";
import { handleTyping } from "./handlers/typing.ts";
import { handleMembers, handleOlder } from "./handlers/pages.ts";
import { RoomModeration } from "./moderation.ts";
import type { ModeratorKeys } from "../moderator_key.ts";
import { transcriptEntries, type TranscriptEntry } from "./transcript.ts";
import { pickTemporaryName } from "./temp_names.ts";

export interface HubOptions {
  store: ChatStore;
  fanout: Fanout;
  /** Milliseconds since the Unix epoch. */
  now?: () => number;
  /** Hex string of `bytes` random bytes. */
  randomHex?: (bytes: number) => string;
  /** Float in [0, 1), for temporary names. */
  random?: () => number;
  /** How long a dropped session can be resumed with its token. */
  resumeWindowMs?: number;
  /** How long a dropped user stays listed before a leave is announced. */
  leaveGraceMs?: number;
  /** A connection that has not said hello by then is closed. */
  helloTimeoutMs?: number;
  /** Minimum gap between two typing notices from one user. */
  typingThrottleMs?: number;
  /** How long clients show a typing notice. */
  typingTimeoutMs?: number;
  /** Resumes with more missed messages than this get recent history. */
  maxReplay?: number;
  /** New chat messages per user: burst and sustained rate. */
  sendRate?: BucketRule;
  /** Renames per user. */
  renameRate?: BucketRule;
  /**
   * Refused messages (rate-limited or invalid) a connection may send before
   * it is closed with 1008: a budget that refills slowly.
   */
  abuseRate?: BucketRule;
  log?: (level: "debug" | "info" | "warn", message: string) => void;
  /**
   * Coalesce room events published within this many milliseconds into one
   * frame per client (0: every event is its own frame). Needs `schedule`.
   */
  batchWindowMs?: number;
  /** Timer used for batching: runs `callback` after `delayMs`. */
  schedule?: (callback: () => void, delayMs: number) => void;
  /** With batching: joins and leaves are announced together this often. */
  presenceWindowMs?: number;
  /** With batching: the fan-out rate (frames/s) at which a room batches. */
  busyFramesPerSecond?: number;
  /** This process's id among instances sharing rooms (random by default). */
  instance?: string;
  /** The other instances, when rooms are shared; absent for one process. */
  cluster?: ClusterView;
  /** Counters for /metrics; the hub keeps its own when none is given. */
  metrics?: ChatMetrics;
  /** Checks a hello's moderator key; absent: nobody is a moderator. */
  moderatorKeys?: ModeratorKeys;
}

/** What the core needs to know of the other instances of a cluster. */
export interface ClusterView {
  /** Whether an instance is up (as last checked; answered at once). */
  alive(instance: string): boolean;
  /**
   * Claims the session of `userId` in `room` that the dead instance left,
   * so that exactly one survivor announces its leave: true for that one.
   */
  adopt(room: string, userId: string, dead: string): Promise<boolean>;
}

/**
 * How long a welcome may wait for this instance to have delivered what its
 * history holds (pub/sub lag in a cluster) before the client is asked to
 * resume instead.
 */
const WELCOME_WAIT_MS = 3_000;

/**
 * Messages one connection may send while a hello is being answered; more
 * is not a client of ours.
 */
const MAX_BACKLOG = 100;

/** A timer this late means the event loop is behind (see `runningLate`). */
const LATE_MS = 250;

type Handlers = {
  [K in ClientMessage["type"]]: Handler<Extract<ClientMessage, { type: K }>>;
};

export const DEFAULTS = {
  resumeWindowMs: 120_000,
  leaveGraceMs: 10_000,
  helloTimeoutMs: 10_000,
  typingThrottleMs: 2_000,
  typingTimeoutMs: 6_000,
  maxReplay: 1_000,
  presenceWindowMs: 200,
  /**
   * Where per-frame cost starts to matter on a small machine (~40 % of a
   * core in sends). At 20,000 a 100-person room at 200 msg/s batched and
   * its p99 went from ~2 to ~8 ms for no need.
   */
  busyFramesPerSecond: 50_000,
  sendRate: { capacity: 10, refillPerSecond: 1 },
  renameRate: { capacity: 1, refillPerSecond: 0.1 },
  /** Pages of the member list: a fast scroll through a big room is fine. */
  memberPageRate: { capacity: 20, refillPerSecond: 5 },
  /** Pages of older history: scrolling back quickly through a long room. */
  olderPageRate: { capacity: 20, refillPerSecond: 5 },
  abuseRate: { capacity: 30, refillPerSecond: 1 },
} as const;

function defaultRandomHex(bytes: number): string {
  const buffer = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(buffer, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Tokens are stored and compared only as hashes. */
export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** A run of history messages, and the same as a JSON array. */
interface HistorySlice {
  messages: ChatMessage[];
  json: string;
}

/**
 * Splits a history, oldest first, into runs of about HISTORY_FRAME_CHARS of
 * JSON, each at least one message. Each message is serialised once: the
 * size is measured on the text the frame is then spliced from.
 */
function sliceHistory(history: ChatMessage[]): HistorySlice[] {
  const slices: HistorySlice[] = [];
  let messages: ChatMessage[] = [];
  let parts: string[] = [];
  let chars = 0;
  const close = () => {
    slices.push({ messages, json: `[${parts.join(",")}]` });
    messages = [];
    parts = [];
    chars = 0;
  };
  for (const message of history) {
    const part = JSON.stringify(message);
    if (parts.length > 0 && chars + part.length + 1 > HISTORY_FRAME_CHARS) {
      close();
    }
    messages.push(message);
    parts.push(part);
    chars += part.length + 1;
  }
  if (parts.length > 0) close();
  return slices;
}

/** `history` frames for the slices after the welcome's. */
function* historyFrames(slices: HistorySlice[]): Generator<string> {
  for (let i = 0; i < slices.length; i++) {
    // Spliced from the slice's JSON; the shape is HistoryMessage.
    yield `{"type":"history","messages":${slices[i]!.json},"more":${
      i < slices.length - 1
    }}`;
  }
}

export class Hub {
  #store: ChatStore;
  #fanout: Fanout;
  #now: () => number;
  #randomHex: (bytes: number) => string;
  #random: () => number;
  #log: NonNullable<HubOptions["log"]>;
  /** Read by /metrics; bumped here, by rooms and by the socket edge. */
  readonly metrics: ChatMetrics;
  #resumeWindowMs: number;
  #leaveGraceMs: number;
  #helloTimeoutMs: number;
  #typingThrottleMs: number;
  #typingTimeoutMs: number;
  #maxReplay: number;
  #sendRate: BucketRule;
  #renameRate: BucketRule;
  #abuseRate: BucketRule;
  #limits = new WeakMap<Session, SessionLimits>();
  #batching: Batching | null;
  /** This process among the instances sharing rooms. */
  #instance: string;
  #cluster: ClusterView | null;
  /** Sessions of dead instances whose adoption is being decided. */
  #adopting = new WeakSet<Session>();
  #rooms = new Map<string, Room>();
  /** Rooms whose sessions and log are being read, by name. */
  #loading = new Map<string, Promise<Room>>();
  #connections = new Map<string, Connection>();
  #moderatorKeys: ModeratorKeys | null;
  /**
   * The last time the event loop was seen running late: hellos queued
   * behind a storm of joins are not the clients' fault, so the hello
   * timeout counts from then at the earliest.
   */
  #lateAt = -Infinity;
  /** Moderators' decisions by room name; outlives unloaded rooms. */
  #moderation = new Map<string, RoomModeration>();
  /** Rooms whose stored moderation this process has read. */
  #moderationRestored = new Set<string>();
  /** One handler per client message type; `hello` is the hub's own. */
  #handlers: Handlers = {
    hello: (_, c, m) => this.#hello(c, m),
    send: handleSend,
    edit: handleChange,
    delete: handleChange,
    moderate: handleModerate,
    rename: handleRename,
    typing: handleTyping,
    members: handleMembers,
    older: handleOlder,
  };
  /** What the handlers may use of the hub. */
  #context: ChatContext;

  constructor(options: HubOptions) {
    this.#store = options.store;
    this.#fanout = options.fanout;
    this.#now = options.now ?? Date.now;
    this.#randomHex = options.randomHex ?? defaultRandomHex;
    this.#random = options.random ?? Math.random;
    this.#log = options.log ?? (() => {});
    this.metrics = options.metrics ?? new ChatMetrics();
    this.#resumeWindowMs = options.resumeWindowMs ?? DEFAULTS.resumeWindowMs;
    this.#leaveGraceMs = options.leaveGraceMs ?? DEFAULTS.leaveGraceMs;
    this.#helloTimeoutMs = options.helloTimeoutMs ?? DEFAULTS.helloTimeoutMs;
    this.#typingThrottleMs = options.typingThrottleMs ??
      DEFAULTS.typingThrottleMs;
    this.#typingTimeoutMs = options.typingTimeoutMs ?? DEFAULTS.typingTimeoutMs;
    this.#maxReplay = options.maxReplay ?? DEFAULTS.maxReplay;
    this.#sendRate = options.sendRate ?? DEFAULTS.sendRate;
    this.#renameRate = options.renameRate ?? DEFAULTS.renameRate;
    this.#abuseRate = options.abuseRate ?? DEFAULTS.abuseRate;
    this.#instance = options.instance ?? this.#randomHex(8);
    this.#cluster = options.cluster ?? null;
    this.#moderatorKeys = options.moderatorKeys ?? null;
    this.#context = {
      store: this.#store,
      metrics: this.metrics,
      typingThrottleMs: this.#typingThrottleMs,
      now: this.#now,
      log: this.#log,
      replyError: (peer, error, ref) => this.replyError(peer, error, ref),
      limitsOf: (session) => this.#limitsOf(session),
    };
    const windowMs = options.batchWindowMs ?? 0;
    this.#batching = windowMs > 0 && options.schedule
      ? {
        windowMs,
        presenceWindowMs: options.presenceWindowMs ??
          DEFAULTS.presenceWindowMs,
        busyFramesPerSecond: options.busyFramesPerSecond ??
          DEFAULTS.busyFramesPerSecond,
        now: this.#now,
        schedule: options.schedule,
      }
      : null;
  }

  /** Whether `key` is the moderator key (for requests outside a room). */
  isModeratorKey(key: string): boolean {
    return this.#moderatorKeys?.matches(key) ?? false;
  }

  /**
   * A room's transcript for an export, read from the store (the room need
   * not be loaded). Throws `room_invalid` for a name that is not a room's.
   */
  async *transcript(roomName: string): AsyncGenerator<TranscriptEntry> {
    const name = normalizeRoomName(roomName);
    const loaded = this.#rooms.get(name);
    const log = loaded?.log ?? this.#store.openRoom(name);
    loaded?.hold();
    try {
      yield* transcriptEntries(log);
    } finally {
      if (loaded) loaded.release();
      else if (!this.#rooms.has(name)) this.#store.releaseRoom(name);
    }
  }

  /** Counts for /healthz. */
  stats(): { rooms: number; connections: number } {
    return { rooms: this.#rooms.size, connections: this.#connections.size };
  }

  connect(peer: Peer): void {
    const now = this.#now();
    this.#connections.set(peer.id, {
      peer,
      connectedAt: now,
      session: null,
      room: null,
      joining: false,
      backlog: [],
      busy: false,
      abuse: null,
      moderator: false,
      tab: null,
    });
  }

  /**
   * Handles one validated message; resolves when it has been handled. A
   * `ProtocolError` becomes an error reply to this peer alone; nothing else
   * is affected. One connection's messages are handled in order: while a
   * handler waits (a hello reading history), later ones wait behind it.
   */
  receive(peerId: string, message: ClientMessage): Promise<void> {
    const connection = this.#connections.get(peerId);
    if (!connection) return Promise.resolve();
    if (connection.busy) {
      if (connection.backlog.length >= MAX_BACKLOG) {
        connection.peer.close(CLOSE_CODES.policyViolation, "Too many messages");
        this.disconnect(peerId);
        return Promise.resolve();
      }
      return new Promise((done) => connection.backlog.push({ message, done }));
    }
    return this.#dispatch(connection, message);
  }

  #dispatch(connection: Connection, message: ClientMessage): Promise<void> {
    let result: void | Promise<void>;
    try {
      // The mapped type pairs each handler with its message type; TypeScript
      // cannot follow that through an indexed call, hence the widening.
      const handler = this.#handlers[message.type] as Handler<ClientMessage>;
      result = handler(this.#context, connection, message);
    } catch (error) {
      this.#failed(connection, message, error);
      return Promise.resolve();
    }
    if (!result) return Promise.resolve();
    connection.busy = true;
    return result.catch((error) => this.#failed(connection, message, error))
      .finally(() => {
        connection.busy = false;
        this.#drain(connection);
      });
  }

  /** Handles what waited behind an asynchronous handler, in order. */
  #drain(connection: Connection): void {
    while (!connection.busy && connection.backlog.length > 0) {
      const next = connection.backlog.shift();
      if (next) this.#dispatch(connection, next.message).then(next.done);
    }
  }

  /** A handler threw: a refusal for protocol errors, a logged bug otherwise. */
  #failed(connection: Connection, message: ClientMessage, error: unknown) {
    const ref = "id" in message ? message.id : message.type;
    if (error instanceof ProtocolError) {
      this.#refuse(connection, error, ref);
      return;
    }
    // A bug (or a store that failed to read) must cost this connection one
    // reply, never the process and everyone's chat.
    this.#log("warn", `handling ${message.type} failed: ${error}`);
    this.replyError(
      connection.peer,
      new ProtocolError("server_error", "The server could not handle that"),
      ref,
    );
    if (message.type === "hello" && !connection.session) {
      connection.peer.close(CLOSE_CODES.internalError, "Server error");
      this.disconnect(connection.peer.id);
    }
  }

  /** A frame that failed validation at the edge: reply and count it. */
  refuse(peerId: string, error: ProtocolError): void {
    const connection = this.#connections.get(peerId);
    if (connection) this.#refuse(connection, error, error.ref);
  }

  /**
   * Replies with the error; a connection that keeps being refused well past
   * the limits is closed with 1008 rather than served forever.
   */
  #refuse(connection: Connection, error: ProtocolError, ref?: string): void {
    this.replyError(connection.peer, error, ref);
    const now = this.#now();
    connection.abuse ??= new TokenBucket(this.#abuseRate, now);
    if (!connection.abuse.take(now)) {
      this.#log("warn", `closing an abusive connection (${error.code})`);
      connection.peer.close(
        CLOSE_CODES.policyViolation,
        "Too many refused messages",
      );
      this.disconnect(connection.peer.id);
    }
  }

  #limitsOf(session: Session): SessionLimits {
    let limits = this.#limits.get(session);
    if (!limits) {
      const now = this.#now();
      limits = {
        send: new TokenBucket(this.#sendRate, now),
        rename: new TokenBucket(this.#renameRate, now),
        memberPages: new TokenBucket(DEFAULTS.memberPageRate, now),
        olderPages: new TokenBucket(DEFAULTS.olderPageRate, now),
      };
      this.#limits.set(session, limits);
    }
    return limits;
  }

  /** Sends an error to one peer; used for errors found before dispatch too. */
  replyError(peer: Peer, error: ProtocolError, ref?: string): void {
    this.metrics.refused(error.code);
    const reply: ServerMessage = {
      type: "error",
      code: error.code,
      message: error.message,
    };
    if (ref !== undefined) reply.ref = ref;
    if (error.retryAfterMs !== undefined) {
      reply.retryAfterMs = error.retryAfterMs;
    }
    peer.send(JSON.stringify(reply));
  }

  /** The connection is gone. Safe to call more than once. */
  disconnect(peerId: string): void {
    const connection = this.#connections.get(peerId);
    if (!connection) return;
    this.#connections.delete(peerId);
    for (const waiting of connection.backlog.splice(0)) waiting.done();
    const { session, room } = connection;
    if (!session || !room) return;
    // Another tab of the same person closed: the person is still here.
    if (session.companions.delete(connection.peer)) return;
    if (session.peer !== connection.peer) return;
    const [next, live] = session.companions.entries().next().value ?? [];
    if (next !== undefined) {
      // The session's own connection went, a tab of it stays: it takes over.
      session.companions.delete(next);
      session.peer = next;
      session.live = live ?? false;
      return;
    }
    session.peer = null;
    session.live = false;
    session.disconnectedAt = this.#now();
    session.expiresAt = session.disconnectedAt + this.#resumeWindowMs;
    room.save(session);
    this.#log("info", `disconnected ${session.name} from ${room.name}`);
  }

  /**
   * The caller's timer fired this many milliseconds late: the event loop
   * is busy (a join storm), and frames already received may still be
   * waiting their turn. Connections are not closed for a missing hello
   * until the loop has kept up for a whole hello timeout.
   */
  runningLate(lateMs: number): void {
    if (lateMs >= LATE_MS) this.#lateAt = this.#now();
  }

  /**
   * Time-driven work, called about once a second: announces leaves after the
   * grace period, frees names whose resume window ended, and closes
   * connections that never said hello.
   */
  sweep(): void {
    const now = this.#now();
    for (const connection of this.#connections.values()) {
      if (
        !connection.session &&
        now - Math.max(connection.connectedAt, this.#lateAt) >=
          this.#helloTimeoutMs
      ) {
        connection.peer.close(CLOSE_CODES.helloTimeout, "No hello received");
        this.disconnect(connection.peer.id);
      }
    }
    for (const room of this.#rooms.values()) {
      room.expireWaits(now, WELCOME_WAIT_MS);
      for (const session of room.sessions()) {
        if (session.peer) continue;
        if (
          this.#cluster && session.owner !== this.#instance &&
          !this.#cluster.alive(session.owner)
        ) {
          this.#adopt(this.#cluster, room, session);
        }
        if (session.connectedElsewhere) continue;
        if (
          session.owner === this.#instance && session.present &&
          now - session.disconnectedAt >= this.#leaveGraceMs
        ) {
          session.present = false;
          room.save(session);
          room.announce("left", memberOf(session));
          this.#log("info", `left ${session.name} from ${room.name}`);
        }
        if (now >= session.expiresAt) room.remove(session);
      }
      if (room.isIdle()) {
        room.dispose();
        this.#rooms.delete(room.name);
      }
    }
    for (const [name, moderation] of this.#moderation) {
      if (!this.#rooms.has(name) && moderation.isEmpty(now)) {
        this.#moderation.delete(name);
        // Read the store again next time: another instance may decide
        // something while this one has the room unloaded.
        this.#moderationRestored.delete(name);
      }
    }
  }

  /**
   * The first time this process loads a room, it takes the moderators'
   * decisions the store kept (from before a restart, or from another
   * instance); later loads keep what is in memory, which is newer.
   */
  async #restoreModeration(room: string): Promise<void> {
    if (this.#moderationRestored.has(room)) return;
    const saved = await this.#store.loadModeration(room);
    if (this.#moderationRestored.has(room)) return;
    this.#moderationRestored.add(room);
    const moderation = this.#moderationOf(room);
    if (moderation.isEmpty(this.#now())) moderation.restore(saved);
  }

  #moderationOf(room: string): RoomModeration {
    let moderation = this.#moderation.get(room);
    if (!moderation) {
      moderation = new RoomModeration();
      this.#moderation.set(room, moderation);
    }
    return moderation;
  }

  /**
   * The instance that owned `session` is gone (killed, or stopped without
   * announcing): one survivor takes it over, so its leave is announced once
   * after the grace period, unless the user resumes first.
   */
  #adopt(cluster: ClusterView, room: Room, session: Session): void {
    if (this.#adopting.has(session)) return;
    this.#adopting.add(session);
    const dead = session.owner;
    cluster.adopt(room.name, session.userId, dead).then((won) => {
      // Lost to another survivor, or the user came back meanwhile.
      if (!won || session.owner !== dead || session.peer) return;
      const now = this.#now();
      session.owner = this.#instance;
      session.connectedElsewhere = false;
      session.disconnectedAt = now;
      session.expiresAt = now + this.#resumeWindowMs;
      room.save(session);
      this.#log(
        "info",
        `took over ${session.name} in ${room.name} from a gone instance`,
      );
    }).catch((error: unknown) => {
      this.#log("warn", `could not take over a session: ${error}`);
    }).finally(() => this.#adopting.delete(session));
  }

  /** Closes every connection, e.g. with 1001 on shutdown. */
  closeAll(code: number, reason: string): void {
    for (const room of this.#rooms.values()) room.flush();
    for (const connection of [...this.#connections.values()]) {
      connection.peer.close(code, reason);
      this.disconnect(connection.peer.id);
    }
  }

  /** The room, loaded (sessions restored, log read) on first use. */
  #room(name: string): Room | Promise<Room> {
    const room = this.#rooms.get(name);
    if (room) return room;
    let loading = this.#loading.get(name);
    if (!loading) {
      const fresh = new Room(
        name,
        this.#store,
        this.#fanout,
        this.#batching,
        this.#instance,
        this.metrics,
        this.#moderationOf(name),
      );
      loading = Promise.all([
        fresh.load(this.#now(), this.#resumeWindowMs),
        this.#restoreModeration(name),
      ]).then(
        () => {
          this.#rooms.set(name, fresh);
          return fresh;
        },
        (error: unknown) => {
          fresh.dispose();
          throw error;
        },
      ).finally(() => this.#loading.delete(name));
      this.#loading.set(name, loading);
    }
    return loading;
  }

  async #hello(connection: Connection, hello: HelloMessage): Promise<void> {
    if (connection.session || connection.joining) {
      throw new ProtocolError("already_joined", "This connection has joined");
    }
    connection.joining = true;
    try {
      const roomName = normalizeRoomName(hello.room);
      if (hello.moderatorKey !== undefined) {
        connection.moderator =
          this.#moderatorKeys?.matches(hello.moderatorKey) ??
            false;
        if (!connection.moderator) {
          this.#log("warn", "moderation: refused a moderator key");
          // Counted like any refusal; the join goes on without the rights.
          this.#refuse(
            connection,
            new ProtocolError(
              "moderator_key_invalid",
              "This moderator link is not (or no longer) valid",
            ),
            "hello",
          );
          if (!this.#connections.has(connection.peer.id)) return;
        }
      }
      const startedAt = performance.now();
      const room = await this.#room(roomName);
      this.metrics.joinStages.room.observe(performance.now() - startedAt);
      room.hold();
      try {
        await this.#join(connection, room, hello, startedAt);
      } finally {
        room.release();
      }
    } finally {
      connection.joining = false;
    }
  }

  async #join(
    connection: Connection,
    room: Room,
    hello: HelloMessage,
    startedAt: number,
  ): Promise<void> {
    if (!this.#connections.has(connection.peer.id)) return;
    connection.tab = hello.tab ?? null;
    const token = this.#randomHex(32);
    const now = this.#now();
    const usedHash = hello.resumeToken === undefined
      ? undefined
      : hashToken(hello.resumeToken);
    let previous = usedHash === undefined
      ? undefined
      : room.findByTokenHash(usedHash);
    if (usedHash !== undefined && !previous) {
      // Not known here (yet): another instance may have issued it a moment
      // ago. The store has every session; read them again.
      await room.restoreSessions(now, this.#resumeWindowMs);
      if (!this.#connections.has(connection.peer.id)) return;
      previous = room.findByTokenHash(usedHash);
    }
    const resumable = previous && (previous.peer || now < previous.expiresAt);
    if (!this.#admitted(connection, room, resumable ? previous : undefined)) {
      return;
    }

    // The session is claimed before any wait, so a second connection with
    // the same token finds it owned by this one.
    let session: Session;
    let announceJoin: boolean;
    if (
      previous && resumable && this.#companionOf(previous, connection, hello)
    ) {
      // Another tab of the same browser: the same person, one more socket.
      session = previous;
      announceJoin = false;
      room.rotateToken(session, usedHash ?? "", hashToken(token));
    } else if (previous && resumable) {
      session = previous;
      if (session.peer) {
        // The same session on a new socket (a half-open old one, or a
        // copied token): the newest connection wins.
        const old = this.#connections.get(session.peer.id);
        if (old) old.session = null;
        session.peer.close(CLOSE_CODES.replaced, "Session resumed elsewhere");
      }
      announceJoin = !session.present;
      session.peer = connection.peer;
      session.live = false;
      session.owner = this.#instance;
      session.connectedElsewhere = false;
      session.present = true;
      room.rotateToken(session, usedHash ?? "", hashToken(token));
    } else {
      const userId = this.#randomHex(8);
      const name = await this.#temporaryName(room, userId);
      if (!this.#connections.has(connection.peer.id)) return;
      session = {
        userId,
        name,
        skeleton: nameSkeleton(name),
        tokenHash: hashToken(token),
        previousTokenHash: null,
        peer: connection.peer,
        companions: new Map(),
        live: false,
        owner: this.#instance,
        connectedElsewhere: false,
        disconnectedAt: 0,
        expiresAt: 0,
        present: true,
        lastTypingAt: -Infinity,
      };
      room.add(session);
      announceJoin = true;
    }
    connection.session = session;
    connection.room = room;

    const resumed = session === previous;
    const storing = performance.now();
    if (!await this.#sessionStored(connection, room, session, !resumed)) {
      return;
    }
    const stages = this.metrics.joinStages;
    const reading = performance.now();
    stages.session.observe(reading - storing);
    const history = await room.log.read({
      recent: HISTORY_ON_JOIN,
      resume: resumed && hello.epoch !== undefined &&
          hello.lastSeq !== undefined
        ? {
          epoch: hello.epoch,
          afterSeq: hello.lastSeq,
          limit: this.#maxReplay,
        }
        : undefined,
    });
    // Chat messages up to the history's end reach this instance's delivery
    // before the newcomer goes live, so it gets each of them exactly once.
    const delivered = await room.deliveredThrough(
      history.epoch,
      history.lastSeq,
      this.#now(),
    );
    // Gone or replaced meanwhile.
    if (!holds(session, connection.peer)) return;
    stages.history.observe(performance.now() - reading);

    const catchUp = delivered
      ? room.goLive(session, history.epoch, history.lastSeq, connection.peer)
      : null;
    const [firstHistory, ...laterHistory] = sliceHistory(history.messages);
    // The first page only: the rest is read on demand, so a join costs one
    // frame whatever the room's size.
    const members = room.listedPage(0, MEMBERS_PER_FRAME);
    const welcome: WelcomeMessage = {
      type: "welcome",
      protocol: PROTOCOL_VERSION,
      room: room.name,
      epoch: history.epoch,
      you: memberOf(session),
      resumeToken: token,
      resumed,
      recovered: history.recovered,
      history: firstHistory?.messages ?? [],
      moreHistory: laterHistory.length > 0,
      members: members.members,
      moreMembers: members.more,
      online: room.listedCount(),
      membersCursor: members.next,
      typingTimeoutMs: this.#typingTimeoutMs,
    };
    if (connection.moderator) welcome.moderator = true;
    if (room.moderation.locked) welcome.locked = true;
    connection.peer.send(JSON.stringify(welcome));
    stages.total.observe(performance.now() - startedAt);
    // The rest of the history, then of the list, ahead of anything sent to
    // this peer later, each frame made as the client reads.
    if (welcome.moreHistory) {
      connection.peer.stream(historyFrames(laterHistory));
    }
    if (announceJoin) {
      room.announce("joined", memberOf(session));
    }
    if (catchUp === null) {
      // Live delivery here is not where the history ends (messages since are
      // no longer kept here, or have not arrived in time): the client
      // resumes, with the token it just got, and reads them from the store.
      connection.peer.close(CLOSE_CODES.goingAway, "Please resume");
      this.disconnect(connection.peer.id);
      return;
    }
    for (const message of catchUp) {
      connection.peer.send(
        JSON.stringify({ type: "chat", message } satisfies ServerMessage),
      );
    }
    this.#log(
      "info",
      `${resumed ? "resumed" : "joined"} ${session.name} in ${room.name}`,
    );
  }

  /**
   * Whether this hello is another tab of a person connected here: it names
   * its tab, and no connection of the session is that tab's (the same tab
   * again means its old socket is dead: it is replaced, as before). A tab's
   * stale socket among the companions is closed first.
   */
  #companionOf(
    session: Session,
    connection: Connection,
    hello: HelloMessage,
  ): boolean {
    const tab = hello.tab;
    if (tab === undefined || session.peer === null) return false;
    const tabOf = (peer: Peer) => this.#connections.get(peer.id)?.tab;
    if (tabOf(session.peer) === tab) return false;
    for (const companion of [...session.companions.keys()]) {
      if (tabOf(companion) !== tab) continue;
      session.companions.delete(companion);
      const old = this.#connections.get(companion.id);
      if (old) old.session = null;
      companion.close(CLOSE_CODES.replaced, "Session resumed elsewhere");
    }
    session.companions.set(connection.peer, false);
    return true;
  }

  /**
   * Kicked members stay out (by user id, and by address for a new
   * session), and a locked room takes nobody new; moderators always get in.
   * False: refused, told why and closed.
   */
  #admitted(
    connection: Connection,
    room: Room,
    previous: Session | undefined,
  ): boolean {
    if (connection.moderator) return true;
    const now = this.#now();
    // Loopback addresses are never among those kept out (see `isLoopback`).
    const keptOutMs = room.moderation.kickedFor(
      previous?.userId,
      connection.peer.address,
      now,
    );
    const refusal = keptOutMs > 0
      ? new ProtocolError(
        "kicked",
        `A moderator removed you from this room; you may come back in ${
          Math.ceil(keptOutMs / 60_000)
        } min`,
        keptOutMs,
      )
      : room.moderation.locked && !previous
      ? new ProtocolError(
        "room_locked",
        "A moderator locked this room: nobody new may join for now",
      )
      : null;
    if (!refusal) return true;
    this.replyError(connection.peer, refusal, "hello");
    connection.peer.close(
      refusal.code === "kicked" ? CLOSE_CODES.kicked : CLOSE_CODES.locked,
      refusal.code === "kicked" ? "Kicked by a moderator" : "Room locked",
    );
    this.disconnect(connection.peer.id);
    return false;
  }

  /**
   * The welcome hands out a token: it must survive a restart before the
   * client relies on it. If the store cannot write, the client is told to
   * come back later and nothing of this join is announced.
   */
  async #sessionStored(
    connection: Connection,
    room: Room,
    session: Session,
    isNew: boolean,
  ): Promise<boolean> {
    try {
      await this.#store.sessionsDurable();
      return true;
    } catch (error) {
      this.#log("warn", `could not store a session in ${room.name}: ${error}`);
      if (!holds(session, connection.peer)) return false;
      if (session.companions.delete(connection.peer)) {
        connection.session = null;
        connection.room = null;
      } else if (isNew) {
        connection.session = null;
        connection.room = null;
        room.remove(session);
      }
      this.replyError(
        connection.peer,
        new ProtocolError(
          "store_unavailable",
          "The chat cannot save anything right now; it will try again shortly",
          STORE_RETRY_MS,
        ),
        "hello",
      );
      connection.peer.close(CLOSE_CODES.goingAway, "Store unavailable");
      this.disconnect(connection.peer.id);
      return false;
    }
  }

  /**
   * A temporary name nobody in the room holds, claimed in the store (which
   * in a cluster is what makes it unique across instances).
   */
  async #temporaryName(room: Room, userId: string): Promise<string> {
    for (let attempt = 1;; attempt++) {
      const name = pickTemporaryName(
        (candidate) => !room.holderOf(candidate),
        this.#random,
      );
      const claimed = this.#store.claimName({
        room: room.name,
        userId,
        skeleton: nameSkeleton(name),
        previous: null,
      });
      // Losing a race for a random name several times running is next to
      // impossible; the last one is kept rather than failing the join.
      if (claimed === true || await claimed || attempt >= 5) return name;
    }
  }
}
