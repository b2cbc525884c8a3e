/**
 * Per-tab session persistence. Everything here takes a Storage-like object so
 * tests use a Map, and every read validates what it finds: storage is written
 * by older versions of this app and by curious users.
 */

import { type ChatMessage, isChatMessage } from "../protocol/messages.ts";

/** The part of the Web Storage API the client uses. */
export interface StorageLike {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** A StorageLike backed by a Map, for tests and when storage is blocked. */
export class MemoryStorage implements StorageLike {
  readonly #items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.#items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.#items.set(key, value);
  }
  removeItem(key: string): void {
    this.#items.delete(key);
  }
}

/** Reads a key, treating a storage that throws (privacy mode) as empty. */
export function readItem(storage: StorageLike, key: string): string | null {
  try {
    return storage.getItem(key);
  } catch {
    return null;
  }
}

/** Writes a key, ignoring quota and privacy errors: persistence is a bonus. */
export function writeItem(
  storage: StorageLike,
  key: string,
  value: string,
): void {
  try {
    storage.setItem(key, value);
  } catch {
    // Full or blocked storage only costs us resumption after a reload.
  }
}

/** Parses JSON, returning undefined instead of throwing. */
export function parseJson(text: string | null): unknown {
  if (text === null) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** What a tab remembers about a room across reloads. */
export interface SessionRecord {
  resumeToken?: string;
  epoch?: string;
  /** Highest seq seen; only kept together with `messages` it belongs to. */
  lastSeq?: number;
  youId?: string;
  /** The most recent messages, so a reload can show them again. */
  messages: ChatMessage[];
}

/** Recent messages kept per tab; a resume replays anything newer. */
export const SESSION_MESSAGES = 100;

export function sessionKey(room: string): string {
  return `chat.session.${room}`;
}

/** Loads the tab's record for `room`, or an empty one. */
export function loadSession(storage: StorageLike, room: string): SessionRecord {
  const data = parseJson(readItem(storage, sessionKey(room)));
  const record: SessionRecord = { messages: [] };
  if (!isRecord(data)) return record;
  if (typeof data["resumeToken"] === "string") {
    record.resumeToken = data["resumeToken"];
  }
  if (typeof data["youId"] === "string") record.youId = data["youId"];
  const messages = data["messages"];
  if (Array.isArray(messages) && messages.every(isChatMessage)) {
    record.messages = messages.slice(-SESSION_MESSAGES);
  }
  // lastSeq without the matching epoch would make the server skip messages
  // this tab never showed, so both must be present and sane.
  const lastSeq = data["lastSeq"];
  if (
    typeof data["epoch"] === "string" && typeof lastSeq === "number" &&
    Number.isSafeInteger(lastSeq) && lastSeq >= 0
  ) {
    record.epoch = data["epoch"];
    record.lastSeq = lastSeq;
  } else if (typeof data["epoch"] === "string") {
    record.epoch = data["epoch"];
  }
  return record;
}

export function saveSession(
  storage: StorageLike,
  room: string,
  record: SessionRecord,
): void {
  writeItem(
    storage,
    sessionKey(room),
    JSON.stringify({
      ...record,
      messages: record.messages.slice(-SESSION_MESSAGES),
    }),
  );
}
