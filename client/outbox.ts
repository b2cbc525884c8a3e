/**
 * Messages the user wrote that the server has not acknowledged yet. Persisted
 * so a reload or a dropped connection never loses them; every entry keeps its
 * client id for life, so resending can never store a message twice.
 */

import { type ErrorCode, isErrorCode } from "../protocol/messages.ts";
import {
  isRecord,
  parseJson,
  readItem,
  type StorageLike,
  writeItem,
} from "./storage.ts";

export interface OutboxEntry {
  /** The client id sent as `send.id`. */
  readonly id: string;
  readonly text: string;
  readonly createdAt: number;
  /** "pending" goes out after every welcome; "failed" waits for a retry. */
  readonly status: "pending" | "failed";
  readonly error?: ErrorCode;
}

/** localStorage key for one tab's outbox in one room. */
export function outboxKey(room: string, tab: string): string {
  return `chat.outbox.${room}.${tab}`;
}

function toEntry(value: unknown): OutboxEntry | undefined {
  if (!isRecord(value)) return undefined;
  const { id, text, createdAt, status, error } = value;
  if (
    typeof id !== "string" || typeof text !== "string" ||
    typeof createdAt !== "number" ||
    (status !== "pending" && status !== "failed")
  ) {
    return undefined;
  }
  return isErrorCode(error)
    ? { id, text, createdAt, status, error }
    : { id, text, createdAt, status };
}

/**
 * An ordered, persisted queue of unacknowledged messages. Entries are
 * immutable; every change replaces the entry and the array, so a renderer can
 * compare by reference.
 */
export class Outbox {
  readonly #storage: StorageLike;
  readonly #key: string;
  #entries: readonly OutboxEntry[];

  constructor(storage: StorageLike, key: string) {
    this.#storage = storage;
    this.#key = key;
    const data = parseJson(readItem(storage, key));
    const entries: OutboxEntry[] = [];
    if (Array.isArray(data)) {
      for (const item of data) {
        const entry = toEntry(item);
        if (entry && !entries.some((e) => e.id === entry.id)) {
          entries.push(entry);
        }
      }
    }
    this.#entries = entries;
  }

  get entries(): readonly OutboxEntry[] {
    return this.#entries;
  }

  has(id: string): boolean {
    return this.#entries.some((e) => e.id === id);
  }

  /** The entries to (re)send after a welcome, oldest first. */
  pending(): OutboxEntry[] {
    return this.#entries.filter((e) => e.status === "pending");
  }

  add(id: string, text: string, now: number): OutboxEntry {
    if (this.has(id)) throw new RangeError(`Duplicate outbox id "${id}"`);
    const entry: OutboxEntry = { id, text, createdAt: now, status: "pending" };
    this.#set([...this.#entries, entry]);
    return entry;
  }

  /** Drops an entry (acknowledged or discarded); false if it was not there. */
  remove(id: string): boolean {
    if (!this.has(id)) return false;
    this.#set(this.#entries.filter((e) => e.id !== id));
    return true;
  }

  /** Marks an entry failed with the server's error code. */
  fail(id: string, code: ErrorCode): boolean {
    return this.#update(id, (e) => ({ ...e, status: "failed", error: code }));
  }

  /** Puts a failed entry back in the queue, same id. */
  retry(id: string): OutboxEntry | undefined {
    const ok = this.#update(
      id,
      ({ id, text, createdAt }) => ({ id, text, createdAt, status: "pending" }),
    );
    return ok ? this.#entries.find((e) => e.id === id) : undefined;
  }

  #update(id: string, change: (entry: OutboxEntry) => OutboxEntry): boolean {
    let found = false;
    const next = this.#entries.map((e) => {
      if (e.id !== id) return e;
      found = true;
      return change(e);
    });
    if (found) this.#set(next);
    return found;
  }

  #set(entries: readonly OutboxEntry[]): void {
    this.#entries = entries;
    if (entries.length === 0) {
      try {
        this.#storage.removeItem(this.#key);
      } catch {
        // Blocked storage: nothing to clean up.
      }
    } else {
      writeItem(this.#storage, this.#key, JSON.stringify(entries));
    }
  }
}
