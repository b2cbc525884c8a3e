/**
 * In-memory store: a bounded ring buffer per room. Used by tests, by
 * `--db :memory:`, and as the reference behaviour for durable stores.
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import {
  type Appended,
  type ChatStore,
  dedupeKey,
  Followers,
  type History,
  type HistoryQuery,
  type LogFollower,
  type MessageDraft,
  type NameClaim,
  type OlderPage,
  type RoomLog,
  type SessionRecord,
  type StoreHealth,
} from "./store.ts";

/** Default number of messages kept per room. */
export const DEFAULT_RETENTION = 10_000;

class MemoryRoomLog implements RoomLog {
  epoch: string;
  #newEpoch: () => string;
  #messages: ChatMessage[] = [];
  /** Index into #messages of the oldest kept message (amortised pruning). */
  #start = 0;
  #lastSeq = 0;
  #byClientId = new Map<string, ChatMessage>();
  #retention: number;
  #followers = new Followers();

  constructor(epoch: string, retention: number, newEpoch: () => string) {
    this.epoch = epoch;
    this.#newEpoch = newEpoch;
    this.#retention = retention;
  }

  append(draft: MessageDraft): Promise<Appended> {
    const key = dedupeKey(draft.from.id, draft.clientId);
    const stored = this.#byClientId.get(key);
    if (stored) {
      return Promise.resolve({
        message: stored,
        epoch: this.epoch,
        duplicate: true,
      });
    }
    const message: ChatMessage = { seq: ++this.#lastSeq, ...draft };
    if (draft.kind === "delete" && draft.target !== undefined) {
      this.#redact(draft.target);
    }
    this.#messages.push(message);
    this.#byClientId.set(key, message);
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
    this.#followers.tell(this.epoch, [message]);
    return Promise.resolve({ message, epoch: this.epoch, duplicate: false });
  }

  /** A deleted message's text is gone from the store, not only hidden. */
  #redact(seq: number): void {
    const oldest = this.#messages[this.#start]?.seq;
    if (oldest === undefined || seq < oldest) return;
    const index = this.#start + (seq - oldest);
    const stored = this.#messages[index];
    if (stored?.seq !== seq) return;
    const redacted = { ...stored, text: "" };
    this.#messages[index] = redacted;
    const key = dedupeKey(stored.from.id, stored.clientId);
    if (this.#byClientId.get(key) === stored) {
      this.#byClientId.set(key, redacted);
    }
  }

  find(authorId: string, clientId: string): Promise<ChatMessage | undefined> {
    return Promise.resolve(this.#byClientId.get(dedupeKey(authorId, clientId)));
  }

  readBefore(beforeSeq: number, limit: number): Promise<OlderPage> {
    // Seqs are dense from the oldest kept: the index is arithmetic.
    const oldest = this.#messages[this.#start]?.seq ?? this.#lastSeq + 1;
    const end = this.#start +
      Math.max(0, Math.min(beforeSeq, this.#lastSeq + 1) - oldest);
    const from = Math.max(this.#start, end - limit);
    return Promise.resolve({
      epoch: this.epoch,
      messages: this.#messages.slice(from, end),
      start: from === this.#start,
    });
  }

  readAfter(afterSeq: number, limit: number): Promise<ChatMessage[]> {
    const oldest = this.#messages[this.#start]?.seq ?? this.#lastSeq + 1;
    const from = this.#start + Math.max(0, afterSeq + 1 - oldest);
    return Promise.resolve(this.#messages.slice(from, from + limit));
  }

  clear(): Promise<string> {
    this.epoch = this.#newEpoch();
    this.#messages = [];
    this.#start = 0;
    this.#lastSeq = 0;
    this.#byClientId.clear();
    return Promise.resolve(this.epoch);
  }

  read(query: HistoryQuery): Promise<History> {
    const resume = query.resume;
    const gap = resume && resume.epoch === this.epoch
      ? this.#since(resume.afterSeq, resume.limit)
      : null;
    return Promise.resolve({
      epoch: this.epoch,
      lastSeq: this.#lastSeq,
      messages: gap ?? this.#recent(query.recent),
      recovered: gap !== null,
    });
  }

  follow(follower: LogFollower): () => void {
    return this.#followers.add(follower);
  }

  #recent(limit: number): ChatMessage[] {
    const from = Math.max(this.#start, this.#messages.length - limit);
    return this.#messages.slice(from);
  }

  /** The messages after `afterSeq`, or null when they are not all kept. */
  #since(afterSeq: number, limit: number): ChatMessage[] | null {
    if (afterSeq > this.#lastSeq || this.#lastSeq - afterSeq > limit) {
      return null;
    }
    const oldest = this.#messages[this.#start];
    if (oldest === undefined) return afterSeq === this.#lastSeq ? [] : null;
    if (afterSeq < oldest.seq - 1) return null;
    // Seqs are dense within the buffer, so the index is arithmetic.
    return this.#messages.slice(this.#start + (afterSeq - oldest.seq + 1));
  }
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
      log = new MemoryRoomLog(
        this.#newEpoch(),
        this.#retention,
        this.#newEpoch,
      );
      this.#rooms.set(room, log);
    }
    return log;
  }

  releaseRoom(_room: string): void {
    // Memory is the only copy of the history: keep it.
  }

  getSession(tokenHash: string): Promise<SessionRecord | undefined> {
    const record = this.#sessions.get(tokenHash);
    return Promise.resolve(record && { ...record });
  }

  sessionsInRoom(room: string): Promise<SessionRecord[]> {
    return Promise.resolve(
      [...this.#sessions.values()].filter((s) => s.room === room),
    );
  }

  #moderation = new Map<string, string>();

  loadModeration(room: string): Promise<string | null> {
    return Promise.resolve(this.#moderation.get(room) ?? null);
  }

  saveModeration(room: string, state: string | null): void {
    if (state === null) this.#moderation.delete(room);
    else this.#moderation.set(room, state);
  }

  putSession(record: SessionRecord): void {
    this.#sessions.set(record.tokenHash, { ...record });
  }

  claimName(_claim: NameClaim): true {
    // One process: the room's own registry already decided.
    return true;
  }

  releaseName(_room: string, _userId: string, _skeleton: string): void {}

  deleteSession(_room: string, tokenHash: string): void {
    this.#sessions.delete(tokenHash);
  }

  sessionsDurable(): Promise<void> {
    return Promise.resolve();
  }

  health(): StoreHealth {
    return { ok: true };
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
