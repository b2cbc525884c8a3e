/**
 * Storage behind two small interfaces so the chat core never knows whether
 * history lives in memory, in SQLite, or (later) behind a broker.
 */

import type { ChatMessage } from "../../protocol/messages.ts";

/** One room's message history. */
export interface RoomLog {
  /** Random id of this history; a new epoch means older seqs are void. */
  readonly epoch: string;
  /** Highest sequence number handed out so far (0 for an empty room). */
  readonly lastSeq: number;
  /**
   * Adds a message whose `seq` is `lastSeq + 1`. `lastSeq` advances at once;
   * the promise resolves when the message is durable (for the memory store,
   * at once) and rejects if it could not be stored.
   */
  append(message: ChatMessage): Promise<void>;
  /** Up to `limit` most recent committed messages, oldest first. */
  recent(limit: number): ChatMessage[];
  /**
   * Committed messages with seq > `afterSeq`, oldest first; or null when the
   * gap cannot be filled: some of them are no longer kept, there are more
   * than `limit`, or `afterSeq` is beyond what exists.
   */
  since(afterSeq: number, limit: number): ChatMessage[] | null;
  /** The message this author sent with this client id, if still kept. */
  findByClientId(authorId: string, clientId: string): ChatMessage | undefined;
}

/** A resumable session as stored. The token itself is never stored. */
export interface SessionRecord {
  tokenHash: string;
  userId: string;
  name: string;
  room: string;
  /** Milliseconds since the epoch after which the session cannot resume. */
  expiresAt: number;
}

export interface ChatStore {
  /** Opens (creating if needed) a room's history. */
  openRoom(room: string): RoomLog;
  /**
   * The chat has unloaded the room: a durable store may drop what it caches
   * for it (the next `openRoom` reads it back). Stores that are the only
   * copy keep everything.
   */
  releaseRoom(room: string): void;
  getSession(tokenHash: string): SessionRecord | undefined;
  /** Every unexpired session of a room, to keep their names reserved. */
  sessionsInRoom(room: string): SessionRecord[];
  putSession(record: SessionRecord): void;
  deleteSession(tokenHash: string): void;
  /** Resolves when everything appended so far is durable. */
  flush(): Promise<void>;
  close(): void;
}
