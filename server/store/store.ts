/**
 * Storage behind small asynchronous interfaces, so the chat core never knows
 * whether history lives in memory, in SQLite or in Redis shared by several
 * instances. The store owns each room's log: it assigns sequence numbers,
 * checks idempotency keys and tells every follower of the room, on every
 * instance, about each message it commits, in order.
 */

import type {
  ChatMessage,
  Member,
  MessageChangeKind,
} from "../../protocol/messages.ts";

/** A message as the chat core asks for it to be stored: no seq yet. */
export interface MessageDraft {
  time: number;
  from: Member;
  /** The author's idempotency key: (room, from.id, clientId) is stored once. */
  clientId: string;
  text: string;
  /** For an edit or delete entry: what it does, and to which message. */
  kind?: MessageChangeKind;
  target?: number;
  moderator?: true;
}

export interface Appended {
  /** The stored message, with its seq (the earlier copy for a duplicate). */
  message: ChatMessage;
  /** The epoch the message belongs to. */
  epoch: string;
  /**
   * The same (author, clientId) was already stored (or was being stored):
   * `message` is that copy, and followers are not told again.
   */
  duplicate: boolean;
}

/** What a joining or resuming client is sent. */
export interface HistoryQuery {
  /** How many recent messages a newcomer (or an unrecoverable resume) gets. */
  recent: number;
  /** A resume: the messages after `afterSeq` of `epoch`, if all are kept. */
  resume?: { epoch: string; afterSeq: number; limit: number };
}

export interface History {
  epoch: string;
  /** The room's highest committed seq when read. */
  lastSeq: number;
  /** Oldest first: the gap after `resume.afterSeq`, or the recent messages. */
  messages: ChatMessage[];
  /** True when `messages` is exactly the gap the resume asked for. */
  recovered: boolean;
}

/** A committed message, told to the room's followers in seq order. */
export interface Committed {
  epoch: string;
  message: ChatMessage;
}

export type LogFollower = (committed: Committed) => void;

/** One room's message log. */
export interface RoomLog {
  /**
   * Stores a message under the next seq, unless (author, clientId) is
   * already stored or in flight, in which case that copy is returned with
   * `duplicate: true`. Resolves once the message is durable; followers of
   * the room hear of it after that. Rejects if it could not be stored (then
   * nothing was stored, and the author may send it again).
   */
  append(draft: MessageDraft): Promise<Appended>;
  /**
   * The stored (or in-flight) copy of this author's message with this
   * client id, if still kept.
   */
  find(authorId: string, clientId: string): Promise<ChatMessage | undefined>;
  /** Reads what a welcome needs, atomically with respect to appends. */
  read(query: HistoryQuery): Promise<History>;
  /**
   * Calls `follower` for every message committed from now on, by any
   * instance, in seq order, each once. Returns a function that stops it.
   */
  /**
   * Up to `limit` committed messages before seq `beforeSeq`, oldest first,
   * for a reader scrolling back; `start` when nothing older is kept (the
   * room's first message, or the oldest retention left).
   */
  readBefore(beforeSeq: number, limit: number): Promise<OlderPage>;
  /**
   * Up to `limit` committed messages after seq `afterSeq` that are still
   * kept, oldest first (fewer: the end of the log). For reading a room
   * from its start to its end, a page at a time (an export).
   */
  readAfter(afterSeq: number, limit: number): Promise<ChatMessage[]>;
  /**
   * Removes every message of the room and starts a new epoch (seqs begin
   * again at 1); resolves with it once durable. Appends not yet committed
   * are refused (`StoreUnavailableError`: their authors send them again,
   * into the new history). Followers hear nothing of the old epoch after.
   */
  clear(): Promise<string>;
  follow(follower: LogFollower): () => void;
}

/** A resumable session as stored. The token itself is never stored. */
export interface SessionRecord {
  tokenHash: string;
  userId: string;
  name: string;
  room: string;
  /** Milliseconds since the epoch after which the session cannot resume. */
  expiresAt: number;
  /**
   * The instance that last had it connected (it announces the leave);
   * absent in single-process stores, where it is always this process.
   */
  owner?: string;
  /** Announced as in the room; absent in single-process stores (true). */
  present?: boolean;
}

export interface ChatStore {
  /** Opens (creating if needed) a room's log. */
  openRoom(room: string): RoomLog;
  /**
   * The chat has unloaded the room: a durable store may drop what it caches
   * for it (the next `openRoom` reads it back). Stores that are the only
   * copy keep everything.
   */
  releaseRoom(room: string): void;
  /** Every unexpired session of a room, to keep their names reserved. */
  sessionsInRoom(room: string): Promise<SessionRecord[]>;
  /**
   * Moderators' standing decisions about a room (mutes, kicks, a lock), as
   * the opaque text `saveModeration` was given; null when there are none.
   */
  loadModeration(room: string): Promise<string | null>;
  /** Written at once (rare); null forgets them. Failures are logged. */
  saveModeration(room: string, state: string | null): void;
  /** Written behind: the next commit carries it. */
  putSession(record: SessionRecord): void;
  deleteSession(room: string, tokenHash: string): void;
  /**
   * Resolves once every session write made so far is durable; rejects
   * (`StoreUnavailableError`) if one could not be made. A token or a name
   * is only announced after this, so nothing is said to be done that a
   * restart would forget.
   */
  sessionsDurable(): Promise<void>;
  /**
   * Whether the store can write now, answered at once (it may look at the
   * file or the connection): false with the reason for /healthz.
   */
  health(): StoreHealth;
  /**
   * Reserves a name (its look-alike skeleton) for `userId` in `room`, and
   * frees `previous` if this user held it. False: someone else holds it.
   * A single process answers at once (its rooms are the whole
   * truth); a shared store asks the other instances' common record.
   */
  claimName(claim: NameClaim): true | Promise<boolean>;
  /** Frees `skeleton` if `userId` holds it. */
  releaseName(room: string, userId: string, skeleton: string): void;
  /** Resolves when everything written so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface OlderPage {
  epoch: string;
  messages: ChatMessage[];
  start: boolean;
}

export type StoreHealth = { ok: true } | { ok: false; reason: string };

export interface NameClaim {
  room: string;
  userId: string;
  skeleton: string;
  previous: string | null;
}

/**
 * The store cannot be reached right now (a shared store's server is down or
 * not answering). Nothing was written; the same request may succeed later.
 */
export class StoreUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreUnavailableError";
  }
}

/** How long a client is asked to wait before resending to a store that is down. */
export const STORE_RETRY_MS = 2_000;

/** The key under which a message is stored once. */
export function dedupeKey(authorId: string, clientId: string): string {
  return `${authorId}\u0000${clientId}`;
}

/**
 * Followers of one room's log, told in order, once each commit is durable.
 * The order of an author's ack and the broadcast is not promised: the memory
 * store tells followers before its append resolves, SQLite after the group
 * commit; clients match their own message by `clientId` either way.
 */
export class Followers {
  #followers = new Set<LogFollower>();

  add(follower: LogFollower): () => void {
    this.#followers.add(follower);
    return () => this.#followers.delete(follower);
  }

  get size(): number {
    return this.#followers.size;
  }

  tell(epoch: string, messages: ChatMessage[]): void {
    if (this.#followers.size === 0 || messages.length === 0) return;
    queueMicrotask(() => {
      for (const message of messages) {
        for (const follower of this.#followers) follower({ epoch, message });
      }
    });
  }
}
