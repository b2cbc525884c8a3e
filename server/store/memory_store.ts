/**
 * In-memory store: a bounded ring buffer per room. Used by tests, by
 * `--db :memory:`, and as the reference behaviour for durable stores.
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import type { ChatStore, RoomLog, SessionRecord } from "./store.ts";

/** Default number of messages kept per room. */
export const DEFAULT_RETENTION = 10_000;

class MemoryRoomLog implements RoomLog {
  readonly epoch: string;
  #messages: ChatMessage[] = [];
  /** Index into #messages of the oldest kept message (amortised pruning). */
  #start = 0;
  #lastSeq = 0;
  #byClientId = new Map<string, ChatMessage>();
  #retention: number;

  constructor(epoch: string, retention: number) {
    this.epoch = epoch;
    this.#retention = retention;
  }

  get lastSeq(): number {
    return this.#lastSeq;
  }

  append(message: ChatMessage): Promise<void> {
    if (message.seq !== this.#lastSeq + 1) {
      return Promise.reject(
        new RangeError(
          `Expected seq ${this.#lastSeq + 1}, got ${message.seq}`,
        ),
      );
    }
    this.#lastSeq = message.seq;
    this.#messages.push(message);
    this.#byClientId.set(dedupeKey(message.from.id, message.clientId), message);
    if (this.#messages.length - this.#start > this.#retention) {
      const dropped = this.#messages[this.#start];
      if (dropped) {
        this.#byClientId.delete(dedupeKey(dropped.from.id, dropped.clientId));
      }
      this.#start++;
      // Compact now and then so the array does not grow forever.
      if (this.#start > this.#retention) {
        this.#messages = this.#messages.slice(this.#start);
        this.#start = 0;
      }
    }
    return Promise.resolve();
  }

  recent(limit: number): ChatMessage[] {
    const from = Math.max(this.#start, this.#messages.length - limit);
    return this.#messages.slice(from);
  }

  since(afterSeq: number, limit: number): ChatMessage[] | null {
    if (afterSeq > this.#lastSeq || this.#lastSeq - afterSeq > limit) {
      return null;
    }
    const oldest = this.#messages[this.#start];
    if (oldest === undefined) return afterSeq === this.#lastSeq ? [] : null;
    if (afterSeq < oldest.seq - 1) return null;
    // Seqs are dense within the buffer, so the index is arithmetic.
    return this.#messages.slice(this.#start + (afterSeq - oldest.seq + 1));
  }

  findByClientId(authorId: string, clientId: string): ChatMessage | undefined {
    return this.#byClientId.get(dedupeKey(authorId, clientId));
  }
}

function dedupeKey(authorId: string, clientId: string): string {
  return `${authorId}\u0000${clientId}`;
}

export interface MemoryStoreOptions {
  retention?: number;
  newEpoch?: () => string;
}

export class MemoryStore implements ChatStore {
  #rooms = new Map<string, MemoryRoomLog>();
  #sessions = new Map<string, SessionRecord>();
  #retention: number;
  #newEpoch: () => string;

  constructor(options: MemoryStoreOptions = {}) {
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.#newEpoch = options.newEpoch ?? (() => crypto.randomUUID());
  }

  openRoom(room: string): RoomLog {
    let log = this.#rooms.get(room);
    if (!log) {
      log = new MemoryRoomLog(this.#newEpoch(), this.#retention);
      this.#rooms.set(room, log);
    }
    return log;
  }

  releaseRoom(_room: string): void {
    // Memory is the only copy of the history: keep it.
  }

  getSession(tokenHash: string): SessionRecord | undefined {
    return this.#sessions.get(tokenHash);
  }

  sessionsInRoom(room: string): SessionRecord[] {
    return [...this.#sessions.values()].filter((s) => s.room === room);
  }

  putSession(record: SessionRecord): void {
    this.#sessions.set(record.tokenHash, { ...record });
  }

  deleteSession(tokenHash: string): void {
    this.#sessions.delete(tokenHash);
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): void {}
}
