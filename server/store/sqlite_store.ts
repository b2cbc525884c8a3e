/**
 * Durable store on Deno's built-in `node:sqlite`: one file, WAL mode, group
 * commits. Appends queue in memory and are written in one transaction per
 * event-loop turn, so "acked" means "committed" without paying one
 * transaction per message.
 *
 * The database is opened with an exclusive lock: a second server on the same
 * file fails at startup instead of corrupting the sequence numbers.
 */

import { backup, DatabaseSync, type StatementSync } from "node:sqlite";
import { setImmediate } from "node:timers";
import type { ChatMessage } from "../../protocol/messages.ts";
import { DEFAULT_RETENTION } from "./memory_store.ts";
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
  StoreUnavailableError,
} from "./store.ts";

/** The schema this code writes. Older databases are migrated forward. */
export const SCHEMA_VERSION = 3;

/** Migration N brings a database from user_version N-1 to N. */
const MIGRATIONS: string[] = [
  "", // version 0: empty database
  `
  CREATE TABLE rooms (
    name TEXT PRIMARY KEY,
    epoch TEXT NOT NULL,
    last_seq INTEGER NOT NULL
  ) STRICT;
  CREATE TABLE messages (
    room TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time INTEGER NOT NULL,
    author_id TEXT NOT NULL,
    author_name TEXT NOT NULL,
    client_id TEXT NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (room, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE UNIQUE INDEX messages_dedupe ON messages (room, author_id, client_id);
  CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    room TEXT NOT NULL,
    expires_at INTEGER NOT NULL
  ) STRICT;
  CREATE INDEX sessions_room ON sessions (room);
  `,
  // Version 2: edits and deletions, as entries of the log.
  `
  ALTER TABLE messages ADD COLUMN kind TEXT;
  ALTER TABLE messages ADD COLUMN target INTEGER;
  ALTER TABLE messages ADD COLUMN moderator INTEGER;
  `,
  // Version 3: moderators' standing decisions (mutes, kicks, a lock).
  `
  CREATE TABLE moderation (
    room TEXT PRIMARY KEY,
    state TEXT NOT NULL
  ) STRICT;
  `,
];

/** Why the store refused to open; the message is one line for the user. */
export class StoreError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreError";
  }
}

export type SyncMode = "normal" | "full";

export interface SqliteStoreOptions {
  path: string;
  /** NORMAL survives a process crash; FULL survives power loss too. */
  sync?: SyncMode;
  /** Messages kept per room; older ones are pruned in small steps. */
  retention?: number;
  newEpoch?: () => string;
  /** Defers the group commit; tests may pass their own. */
  schedule?: (flush: () => void) => void;
  /** Told how long each group commit took, in milliseconds (/metrics). */
  onCommit?: (ms: number) => void;
  /** Where the store says that it cannot write, and when it can again. */
  log?: (level: "warn" | "error", message: string) => void;
}

/**
 * SQLite's errors that mean "cannot write now" rather than a bug: the disk
 * is full or failing. Appends refused for these are worth sending again.
 */
const CANNOT_WRITE =
  /disk is full|disk I\/O error|SQLITE_FULL|SQLITE_IOERR|readonly/i;

/** How often, while the store cannot write, a write is tried again. */
const PROBE_EVERY_MS = 1_000;

/** Rows deleted per flush when pruning, so no single flush blocks for long. */
const PRUNE_CHUNK = 500;
/** Recent committed messages kept in memory per room for joins and resumes. */
const RECENT_CACHE = 1_000;

function toMessage(row: Record<string, unknown>): ChatMessage {
  const message: ChatMessage = {
    seq: Number(row["seq"]),
    time: Number(row["time"]),
    from: { id: String(row["author_id"]), name: String(row["author_name"]) },
    clientId: String(row["client_id"]),
    text: String(row["text"]),
  };
  const kind = row["kind"];
  if (kind === "edit" || kind === "delete") {
    message.kind = kind;
    message.target = Number(row["target"]);
    if (Number(row["moderator"]) === 1) message.moderator = true;
  }
  return message;
}

interface PendingAppend {
  log: SqliteRoomLog;
  message: ChatMessage;
  resolve: (appended: Appended) => void;
  reject: (error: unknown) => void;
}

type SessionWrite =
  | { kind: "put"; record: SessionRecord }
  | { kind: "delete"; tokenHash: string };

class SqliteRoomLog implements RoomLog {
  readonly room: string;
  epoch: string;
  /** Highest seq handed out so far (committed or in flight). */
  #lastSeq: number;
  /** Highest seq known to be in the database. */
  committedSeq: number;
  /** Lowest seq still in the database (pruning moves it up). */
  oldestSeq: number;
  /** Committed messages, newest last, at most RECENT_CACHE. */
  #recent: ChatMessage[];
  /** Appends not yet committed, by dedupe key, so a resend waits for them. */
  #inFlight = new Map<string, Promise<Appended>>();
  #followers = new Followers();
  #store: SqliteStore;

  constructor(
    store: SqliteStore,
    room: string,
    epoch: string,
    lastSeq: number,
    recent: ChatMessage[],
    oldestSeq: number,
  ) {
    this.#store = store;
    this.room = room;
    this.epoch = epoch;
    this.#lastSeq = lastSeq;
    this.committedSeq = lastSeq;
    this.#recent = recent;
    this.oldestSeq = oldestSeq;
  }

  /** Whether appends are waiting for a commit (the log must stay loaded). */
  get busy(): boolean {
    return this.#inFlight.size > 0;
  }

  append(draft: MessageDraft): Promise<Appended> {
    const key = dedupeKey(draft.from.id, draft.clientId);
    const inFlight = this.#inFlight.get(key);
    if (inFlight) {
      return inFlight.then((appended) => ({ ...appended, duplicate: true }));
    }
    const stored = this.#store.readByClientId(
      this.room,
      draft.from.id,
      draft.clientId,
    );
    if (stored) {
      return Promise.resolve({
        message: stored,
        epoch: this.epoch,
        duplicate: true,
      });
    }
    const message: ChatMessage = { seq: ++this.#lastSeq, ...draft };
    // One promise per message: the hot path of every send.
    const appended = this.#store.enqueue(this, message);
    this.#inFlight.set(key, appended);
    return appended;
  }

  /** The commit of `message` is decided (either way): resends are new. */
  settled(message: ChatMessage): void {
    this.#inFlight.delete(dedupeKey(message.from.id, message.clientId));
  }

  async find(
    authorId: string,
    clientId: string,
  ): Promise<ChatMessage | undefined> {
    const inFlight = this.#inFlight.get(dedupeKey(authorId, clientId));
    if (inFlight) return (await inFlight).message;
    return this.#store.readByClientId(this.room, authorId, clientId);
  }

  /** A commit failed: the seqs handed out since the last one are void. */
  rollBack(): void {
    this.#lastSeq = this.committedSeq;
  }

  /** Called by the store once `messages` are durable. */
  committed(messages: ChatMessage[]): void {
    for (const message of messages) {
      this.#recent.push(message);
      if (message.kind === "delete" && message.target !== undefined) {
        this.#redactCached(message.target);
      }
    }
    const last = messages.at(-1);
    if (last) this.committedSeq = last.seq;
    if (this.#recent.length > RECENT_CACHE * 2) {
      this.#recent = this.#recent.slice(-RECENT_CACHE);
    }
  }

  #redactCached(seq: number): void {
    const first = this.#recent[0]?.seq;
    if (first === undefined) return;
    const index = seq - first;
    const cached = this.#recent[index];
    if (cached?.seq === seq) this.#recent[index] = { ...cached, text: "" };
  }

  /** Tells followers; called after the appends' promises are settled. */
  tell(messages: ChatMessage[]): void {
    this.#followers.tell(this.epoch, messages);
  }

  follow(follower: LogFollower): () => void {
    return this.#followers.add(follower);
  }

  read(query: HistoryQuery): Promise<History> {
    const resume = query.resume;
    const gap = resume && resume.epoch === this.epoch
      ? this.#since(resume.afterSeq, resume.limit)
      : null;
    return Promise.resolve({
      epoch: this.epoch,
      lastSeq: this.committedSeq,
      messages: gap ?? this.#readRecent(query.recent),
      recovered: gap !== null,
    });
  }

  readBefore(beforeSeq: number, limit: number): Promise<OlderPage> {
    const before = Math.min(beforeSeq, this.committedSeq + 1);
    const messages = limit > 0
      ? this.#store.readBefore(this.room, before, limit)
      : [];
    const first = messages[0]?.seq ?? before;
    return Promise.resolve({
      epoch: this.epoch,
      messages,
      start: first <= this.oldestSeq,
    });
  }

  readAfter(afterSeq: number, limit: number): Promise<ChatMessage[]> {
    // Only what is committed: in-flight appends are not yet the room's.
    const messages = this.#store.readSince(this.room, afterSeq, limit);
    return Promise.resolve(
      messages.filter((m) => m.seq <= this.committedSeq),
    );
  }

  clear(): Promise<string> {
    try {
      this.epoch = this.#store.clearRoom(this.room);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#lastSeq = 0;
    this.committedSeq = 0;
    this.#recent = [];
    this.oldestSeq = 1;
    return Promise.resolve(this.epoch);
  }

  #readRecent(limit: number): ChatMessage[] {
    // slice(-0) would be the whole cache.
    if (limit <= 0) return [];
    if (limit <= this.#recent.length) return this.#recent.slice(-limit);
    return this.#store.readRecent(this.room, limit);
  }

  /** Committed messages after `afterSeq`, or null if the gap is not kept. */
  #since(afterSeq: number, limit: number): ChatMessage[] | null {
    if (afterSeq > this.committedSeq) return null;
    if (this.committedSeq - afterSeq > limit) return null;
    if (afterSeq === this.committedSeq) return [];
    // Pruned by retention (the memory cache may still hold them).
    if (afterSeq + 1 < this.oldestSeq) return null;
    const oldestCached = this.#recent[0];
    const messages = oldestCached && oldestCached.seq <= afterSeq + 1
      ? this.#recent.slice(afterSeq + 1 - oldestCached.seq)
      : this.#store.readSince(this.room, afterSeq, limit);
    // A pruned or missing first message means the gap cannot be filled.
    return messages[0]?.seq === afterSeq + 1 ? messages : null;
  }
}

/** SQLite's diagnostics can span lines; the user gets one. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ").trim();
}

/** Translates SQLite's errors at open time into one clear sentence. */
function explainOpenError(path: string, error: unknown): StoreError {
  const text = oneLine(error instanceof Error ? error.message : String(error));
  if (error instanceof Deno.errors.NotCapable) {
    return new StoreError(
      `not allowed to use "${path}": grant it with --allow-read and --allow-write, or use the default --data directory`,
      { cause: error },
    );
  }
  if (/database is locked|busy/i.test(text)) {
    return new StoreError(
      `the database "${path}" is locked: another chat server is probably using it. Stop it, or pick another --data directory.`,
      { cause: error },
    );
  }
  if (/not a database/i.test(text)) {
    return new StoreError(
      `"${path}" is not a chat database (not SQLite). It was left untouched; move it away or pick another --data directory.`,
      { cause: error },
    );
  }
  if (/malformed|corrupt/i.test(text)) {
    return new StoreError(
      `the database "${path}" is corrupted (${text}). It was left untouched; restore a backup or move it away to start afresh.`,
      { cause: error },
    );
  }
  if (/unable to open|readonly|read-only|permission/i.test(text)) {
    return new StoreError(
      `cannot open the database "${path}" for writing (${text}). Check that the directory exists and is writable.`,
      { cause: error },
    );
  }
  return new StoreError(`cannot open the database "${path}": ${text}`, {
    cause: error,
  });
}

export class SqliteStore implements ChatStore {
  readonly path: string;
  #db: DatabaseSync;
  #retention: number;
  #newEpoch: () => string;
  #schedule: (flush: () => void) => void;
  #rooms = new Map<string, SqliteRoomLog>();
  #appends: PendingAppend[] = [];
  #sessionWrites: SessionWrite[] = [];
  #flushScheduled = false;
  #idleWaiters: (() => void)[] = [];
  /** Waiting for the session writes queued so far to commit. */
  #sessionWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #closed = false;
  #onCommit: (ms: number) => void;
  #log: (level: "warn" | "error", message: string) => void;
  /** The database file's identity at open, to notice it deleted or replaced. */
  #fileId: string | null = null;
  /** Why the store cannot write (null: it can); for /healthz. */
  #cannotWrite: string | null = null;
  /** The file was deleted or replaced: nothing is acknowledged any more. */
  #fileLost = false;
  #lastProbeAt = 0;
  #statements: {
    insertMessage: StatementSync;
    updateRoom: StatementSync;
    redactMessage: StatementSync;
    insertRoom: StatementSync;
    selectRoom: StatementSync;
    selectRecent: StatementSync;
    selectSince: StatementSync;
    selectBefore: StatementSync;
    selectByClientId: StatementSync;
    putSession: StatementSync;
    deleteSession: StatementSync;
    selectSession: StatementSync;
    selectRoomSessions: StatementSync;
    selectOldest: StatementSync;
    pruneMessages: StatementSync;
  };

  /** Opens or creates the database; throws `StoreError` with a clear line. */
  constructor(options: SqliteStoreOptions) {
    this.path = options.path;
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.#newEpoch = options.newEpoch ?? (() => crypto.randomUUID());
    // setImmediate runs once the current batch of I/O callbacks is done: every
    // message that arrived in the same turn shares one transaction, and the
    // ack waits microseconds. (setTimeout(0) waits about 2 ms in Deno.)
    this.#schedule = options.schedule ?? ((flush) => setImmediate(flush));
    this.#onCommit = options.onCommit ?? (() => {});
    this.#log = options.log ?? (() => {});
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(options.path);
      // Fail at once rather than wait when another process holds the lock.
      db.exec("PRAGMA busy_timeout = 0");
      // Only read until the file is known to be ours: switching to WAL
      // rewrites the header, and a refused file must stay byte-for-byte.
      const version = this.#checkFile(db);
      db.exec("PRAGMA locking_mode = EXCLUSIVE");
      const mode = db.prepare("PRAGMA journal_mode = WAL").get();
      if (mode?.["journal_mode"] !== "wal") {
        throw new StoreError(`cannot switch "${options.path}" to WAL mode`);
      }
      db.exec(
        `PRAGMA synchronous = ${options.sync === "full" ? "FULL" : "NORMAL"}`,
      );
      this.#migrate(db, version);
    } catch (error) {
      db?.close();
      if (error instanceof StoreError) throw error;
      throw explainOpenError(options.path, error);
    }
    this.#db = db;
    const fileId = fileIdentity(options.path);
    this.#fileId = fileId === "gone" ? null : fileId;
    this.#statements = {
      insertMessage: db.prepare(
        "INSERT INTO messages (room, seq, time, author_id, author_name, client_id, text, kind, target, moderator) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      ),
      updateRoom: db.prepare("UPDATE rooms SET last_seq = ? WHERE name = ?"),
      redactMessage: db.prepare(
        "UPDATE messages SET text = '' WHERE room = ? AND seq = ?",
      ),
      insertRoom: db.prepare(
        "INSERT INTO rooms (name, epoch, last_seq) VALUES (?, ?, 0)",
      ),
      selectRoom: db.prepare(
        "SELECT epoch, last_seq FROM rooms WHERE name = ?",
      ),
      selectRecent: db.prepare(
        "SELECT * FROM (SELECT seq, time, author_id, author_name, client_id, text, kind, target, moderator FROM messages WHERE room = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq",
      ),
      selectSince: db.prepare(
        "SELECT seq, time, author_id, author_name, client_id, text, kind, target, moderator FROM messages WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?",
      ),
      selectBefore: db.prepare(
        "SELECT seq, time, author_id, author_name, client_id, text, kind, target, moderator FROM messages WHERE room = ? AND seq < ? ORDER BY seq DESC LIMIT ?",
      ),
      selectByClientId: db.prepare(
        "SELECT seq, time, author_id, author_name, client_id, text, kind, target, moderator FROM messages WHERE room = ? AND author_id = ? AND client_id = ?",
      ),
      putSession: db.prepare(
        "INSERT OR REPLACE INTO sessions (token_hash, user_id, name, room, expires_at) VALUES (?, ?, ?, ?, ?)",
      ),
      deleteSession: db.prepare("DELETE FROM sessions WHERE token_hash = ?"),
      selectSession: db.prepare(
        "SELECT token_hash, user_id, name, room, expires_at FROM sessions WHERE token_hash = ?",
      ),
      selectRoomSessions: db.prepare(
        "SELECT token_hash, user_id, name, room, expires_at FROM sessions WHERE room = ?",
      ),
      selectOldest: db.prepare(
        "SELECT min(seq) AS oldest FROM messages WHERE room = ?",
      ),
      pruneMessages: db.prepare(
        "DELETE FROM messages WHERE room = ? AND seq > ? AND seq <= ?",
      ),
    };
  }

  /**
   * Refuses files that are not ours, are newer, or are damaged, without
   * writing to them. Returns the schema version found.
   */
  #checkFile(db: DatabaseSync): number {
    // Reading the header also detects non-SQLite files and a foreign lock.
    const row = db.prepare("PRAGMA user_version").get();
    const version = Number(row?.["user_version"] ?? 0);
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        `the database "${this.path}" was written by a newer version of the chat (schema ${version}; this one knows ${SCHEMA_VERSION}). It was left untouched; upgrade the chat or use another --data directory.`,
      );
    }
    if (version === 0) {
      // A non-empty database without our version is someone else's file.
      const tables = db.prepare(
        "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'",
      ).get();
      if (Number(tables?.["n"] ?? 0) > 0) {
        throw new StoreError(
          `"${this.path}" is a SQLite database but not a chat database. It was left untouched; pick another --data directory.`,
        );
      }
    }
    if (version > 0) {
      const check = db.prepare("PRAGMA quick_check").get();
      if (check?.["quick_check"] !== "ok") {
        throw new StoreError(
          `the database "${this.path}" is corrupted (${
            oneLine(String(check?.["quick_check"]))
          }). It was left untouched; restore a backup or move it away to start afresh.`,
        );
      }
    }
    return version;
  }

  /** Applies the forward migrations from `version` to SCHEMA_VERSION. */
  #migrate(db: DatabaseSync, version: number): void {
    for (let next = version + 1; next <= SCHEMA_VERSION; next++) {
      db.exec("BEGIN IMMEDIATE");
      try {
        db.exec(MIGRATIONS[next] ?? "");
        db.exec(`PRAGMA user_version = ${next}`);
        db.exec("COMMIT");
      } catch (error) {
        db.exec("ROLLBACK");
        throw error;
      }
    }
  }

  openRoom(room: string): RoomLog {
    const existing = this.#rooms.get(room);
    if (existing) return existing;
    let row = this.#statements.selectRoom.get(room);
    if (!row) {
      this.#statements.insertRoom.run(room, this.#newEpoch());
      row = this.#statements.selectRoom.get(room);
    }
    const lastSeq = Number(row?.["last_seq"] ?? 0);
    const oldest = this.#statements.selectOldest.get(room)?.["oldest"];
    const log = new SqliteRoomLog(
      this,
      room,
      String(row?.["epoch"]),
      lastSeq,
      this.readRecent(room, RECENT_CACHE),
      oldest === null || oldest === undefined ? lastSeq + 1 : Number(oldest),
    );
    this.#rooms.set(room, log);
    return log;
  }

  releaseRoom(room: string): void {
    const log = this.#rooms.get(room);
    // A log with appends in flight is still needed to settle them.
    if (log && !log.busy) {
      this.#rooms.delete(room);
    }
  }

  enqueue(log: SqliteRoomLog, message: ChatMessage): Promise<Appended> {
    if (this.#closed) {
      return Promise.reject(new StoreError("The store is closed"));
    }
    if (this.#fileLost) {
      return Promise.reject(new StoreUnavailableError(this.#cannotWrite ?? ""));
    }
    return new Promise((resolve, reject) => {
      this.#appends.push({ log, message, resolve, reject });
      this.#requestFlush();
    });
  }

  #requestFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    this.#schedule(() => this.#flush());
  }

  /** Writes everything queued in one transaction, then settles the promises. */
  #flush(): void {
    this.#flushScheduled = false;
    const appends = this.#appends;
    const sessionWrites = this.#sessionWrites;
    const sessionWaiters = this.#sessionWaiters;
    this.#appends = [];
    this.#sessionWrites = [];
    this.#sessionWaiters = [];
    if (appends.length > 0 || sessionWrites.length > 0) {
      const s = this.#statements;
      const lastSeqs = new Map<SqliteRoomLog, number>();
      const prunedTo = new Map<SqliteRoomLog, number>();
      const startedAt = performance.now();
      try {
        // A commit into a file that is no longer at its path would be
        // acknowledged and then lost at the next start.
        this.#checkFileInPlace();
        this.#db.exec("BEGIN");
        for (const { log, message } of appends) {
          s.insertMessage.run(
            log.room,
            message.seq,
            message.time,
            message.from.id,
            message.from.name,
            message.clientId,
            message.text,
            message.kind ?? null,
            message.target ?? null,
            message.moderator ? 1 : null,
          );
          // A deleted message's text leaves the database, not only the page.
          if (message.kind === "delete" && message.target !== undefined) {
            s.redactMessage.run(log.room, message.target);
          }
          lastSeqs.set(log, message.seq);
        }
        for (const [log, seq] of lastSeqs) s.updateRoom.run(seq, log.room);
        for (const write of sessionWrites) {
          if (write.kind === "put") {
            const r = write.record;
            s.putSession.run(
              r.tokenHash,
              r.userId,
              r.name,
              r.room,
              r.expiresAt,
            );
          } else {
            s.deleteSession.run(write.tokenHash);
          }
        }
        // Pruning shares the transaction: a failure here is a failed commit,
        // not an exception escaping the event loop.
        for (const [log, seq] of lastSeqs) {
          prunedTo.set(log, this.#prune(log, seq));
        }
        this.#db.exec("COMMIT");
      } catch (error) {
        try {
          this.#db.exec("ROLLBACK");
        } catch {
          // The failed COMMIT may have rolled back already.
        }
        // Nothing of this flush is stored: hand its seqs out again (the
        // authors get an error and resend), and keep the session writes for
        // the next commit rather than dropping them.
        for (const log of lastSeqs.keys()) log.rollBack();
        this.#sessionWrites.unshift(...sessionWrites);
        const refusal = this.#failedToWrite(error);
        for (const append of appends) {
          append.log.settled(append.message);
          append.reject(refusal);
        }
        for (const waiter of sessionWaiters) waiter.reject(refusal);
        this.#wakeIdle();
        return;
      }
      this.#onCommit(performance.now() - startedAt);
      this.#wroteAgain();
      const byLog = new Map<SqliteRoomLog, ChatMessage[]>();
      for (const { log, message } of appends) {
        const list = byLog.get(log) ?? [];
        list.push(message);
        byLog.set(log, list);
      }
      for (const [log, messages] of byLog) log.committed(messages);
      for (const [log, oldest] of prunedTo) log.oldestSeq = oldest;
      for (const { log, message, resolve } of appends) {
        log.settled(message);
        resolve({ message, epoch: log.epoch, duplicate: false });
      }
      for (const [log, messages] of byLog) log.tell(messages);
    }
    for (const waiter of sessionWaiters) waiter.resolve();
    this.#wakeIdle();
  }

  /** Throws if the file at `path` is not the one this store has open. */
  #checkFileInPlace(): void {
    if (this.#fileLost) throw new StoreUnavailableError(this.#cannotWrite!);
    if (this.#fileId === null) return;
    const now = fileIdentity(this.path);
    if (now === null || now === this.#fileId) return;
    this.#fileLost = true;
    this.#cannotWrite =
      `the database file "${this.path}" was deleted or replaced while the chat was running; nothing more is acknowledged. Restart the chat (restore the file first if it was deleted by mistake).`;
    this.#log("error", this.#cannotWrite);
    throw new StoreUnavailableError(this.#cannotWrite);
  }

  /**
   * A commit failed: the error the authors get. A full or failing disk is
   * "unavailable" (send again later); the reason is kept for /healthz.
   */
  #failedToWrite(error: unknown): Error {
    if (error instanceof StoreUnavailableError) return error;
    const text = oneLine(
      error instanceof Error ? error.message : String(error),
    );
    if (!CANNOT_WRITE.test(text)) {
      return error instanceof Error ? error : new Error(text);
    }
    if (this.#cannotWrite === null) {
      this.#log(
        "error",
        `cannot write to "${this.path}": ${text}. Messages are refused until it can (free some disk space).`,
      );
    }
    this.#cannotWrite = `cannot write to the database: ${text}`;
    return new StoreUnavailableError(this.#cannotWrite, { cause: error });
  }

  /** A commit went through: whatever stopped writes before is over. */
  #wroteAgain(): void {
    if (this.#cannotWrite === null || this.#fileLost) return;
    this.#cannotWrite = null;
    this.#log("warn", `writing to "${this.path}" works again`);
  }

  health(): StoreHealth {
    if (this.#closed) return { ok: false, reason: "the store is closed" };
    if (!this.#fileLost) {
      try {
        this.#checkFileInPlace();
      } catch {
        // Reported below.
      }
    }
    if (this.#cannotWrite !== null && !this.#fileLost) this.#probe();
    return this.#cannotWrite === null
      ? { ok: true }
      : { ok: false, reason: this.#cannotWrite };
  }

  /**
   * While writes fail and nobody sends, try a tiny write now and then, so
   * health recovers when the disk has room again (and queued session writes
   * go through).
   */
  #probe(): void {
    const now = Date.now();
    if (now - this.#lastProbeAt < PROBE_EVERY_MS) return;
    this.#lastProbeAt = now;
    if (this.#sessionWrites.length > 0 || this.#appends.length > 0) {
      this.#flushNow();
      return;
    }
    try {
      // Rewrites page 1's header: a real write to the log, but no change.
      this.#db.exec(
        `BEGIN IMMEDIATE; PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT`,
      );
      this.#wroteAgain();
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // Nothing was begun.
      }
      this.#failedToWrite(error);
    }
  }

  /**
   * Deletes at most PRUNE_CHUNK of the oldest messages beyond the retention
   * limit, given the room's last seq once this commit lands; a backlog is
   * worked off over the following commits. Returns the new oldest seq.
   */
  #prune(log: SqliteRoomLog, lastSeq: number): number {
    const lastToDelete = lastSeq - this.#retention;
    if (lastToDelete < log.oldestSeq) return log.oldestSeq;
    // Seqs are dense, so a seq range bounds the work of one DELETE.
    const upTo = Math.min(lastToDelete, log.oldestSeq + PRUNE_CHUNK - 1);
    this.#statements.pruneMessages.run(log.room, log.oldestSeq - 1, upTo);
    return upTo + 1;
  }

  #wakeIdle(): void {
    if (this.#flushScheduled) return;
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }

  /** Commits queued writes now, synchronously; used before reads. */
  #flushNow(): void {
    if (this.#appends.length > 0 || this.#sessionWrites.length > 0) {
      this.#flush();
    }
  }

  /**
   * Deletes a room's messages and gives it a new epoch, in one
   * transaction, after committing what is queued (synchronously, so no
   * append of the old history can slip in between). Returns the epoch.
   */
  clearRoom(room: string): string {
    this.#flushNow();
    if (this.#cannotWrite !== null) {
      throw new StoreUnavailableError(this.#cannotWrite);
    }
    const epoch = this.#newEpoch();
    try {
      this.#db.exec("BEGIN IMMEDIATE");
      this.#db.prepare("DELETE FROM messages WHERE room = ?").run(room);
      this.#db.prepare(
        "UPDATE rooms SET epoch = ?, last_seq = 0 WHERE name = ?",
      ).run(epoch, room);
      this.#db.exec("COMMIT");
    } catch (error) {
      try {
        this.#db.exec("ROLLBACK");
      } catch {
        // Nothing was begun, or the failed COMMIT rolled back already.
      }
      throw this.#failedToWrite(error);
    }
    return epoch;
  }

  readRecent(room: string, limit: number): ChatMessage[] {
    return this.#statements.selectRecent.all(room, limit).map(toMessage);
  }

  readBefore(room: string, beforeSeq: number, limit: number): ChatMessage[] {
    return this.#statements.selectBefore.all(room, beforeSeq, limit).map(
      toMessage,
    ).reverse();
  }

  readSince(room: string, afterSeq: number, limit: number): ChatMessage[] {
    return this.#statements.selectSince.all(room, afterSeq, limit).map(
      toMessage,
    );
  }

  readByClientId(
    room: string,
    authorId: string,
    clientId: string,
  ): ChatMessage | undefined {
    const row = this.#statements.selectByClientId.get(
      room,
      authorId,
      clientId,
    );
    return row ? toMessage(row) : undefined;
  }

  getSession(tokenHash: string): Promise<SessionRecord | undefined> {
    this.#flushNow();
    const row = this.#statements.selectSession.get(tokenHash);
    return Promise.resolve(row ? toSession(row) : undefined);
  }

  loadModeration(room: string): Promise<string | null> {
    const row = this.#db.prepare(
      "SELECT state FROM moderation WHERE room = ?",
    ).get(room);
    return Promise.resolve(row ? String(row["state"]) : null);
  }

  saveModeration(room: string, state: string | null): void {
    try {
      if (state === null) {
        this.#db.prepare("DELETE FROM moderation WHERE room = ?").run(room);
      } else {
        this.#db.prepare(
          "INSERT OR REPLACE INTO moderation (room, state) VALUES (?, ?)",
        ).run(room, state);
      }
    } catch (error) {
      this.#log(
        "warn",
        `could not save the moderation of ${room}: ${
          error instanceof Error ? error.message : error
        }`,
      );
    }
  }

  sessionsInRoom(room: string): Promise<SessionRecord[]> {
    this.#flushNow();
    return Promise.resolve(
      this.#statements.selectRoomSessions.all(room).map(toSession),
    );
  }

  putSession(record: SessionRecord): void {
    this.#sessionWrites.push({ kind: "put", record: { ...record } });
    this.#requestFlush();
  }

  claimName(_claim: NameClaim): true {
    // One process: the room's own registry already decided.
    return true;
  }

  releaseName(_room: string, _userId: string, _skeleton: string): void {}

  deleteSession(_room: string, tokenHash: string): void {
    this.#sessionWrites.push({ kind: "delete", tokenHash });
    this.#requestFlush();
  }

  sessionsDurable(): Promise<void> {
    if (this.#sessionWrites.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#sessionWaiters.push({ resolve, reject });
      this.#requestFlush();
    });
  }

  flush(): Promise<void> {
    if (!this.#flushScheduled) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Commits what is queued, checkpoints the WAL and closes the file. On a
   * full disk the checkpoint fails: the WAL then stays beside the database
   * and SQLite replays it at the next start, so nothing committed is lost.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flushNow();
    this.#closed = true;
    for (const waiter of this.#sessionWaiters.splice(0)) {
      waiter.reject(new StoreUnavailableError("The store is closed"));
    }
    try {
      this.#db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    } catch (error) {
      this.#log(
        "warn",
        `could not fold the write-ahead log into "${this.path}" (${
          oneLine(error instanceof Error ? error.message : String(error))
        }); it is kept and applied at the next start`,
      );
    }
    try {
      this.#db.close();
    } catch (error) {
      this.#log("warn", `closing "${this.path}": ${error}`);
    }
    return Promise.resolve();
  }

  /**
   * Writes a consistent copy of the database to `path` with SQLite's online
   * backup (`VACUUM INTO` is not allowed under Deno's narrowed permissions:
   * it attaches a database). Queued writes are committed first, and the
   * copy is made through this connection, so it holds every message
   * acknowledged before it started. Deno runs it on this thread: the chat
   * waits for it (see the README's figures).
   */
  async snapshot(path: string): Promise<void> {
    if (this.#closed) throw new StoreError("The store is closed");
    this.#flushNow();
    await backup(this.#db, path);
  }

  /** `PRAGMA integrity_check`, for tests and operators. */
  integrityCheck(): string {
    const row = this.#db.prepare("PRAGMA integrity_check").get();
    return String(row?.["integrity_check"]);
  }
}

/**
 * Device and inode of `path`: "gone" if nothing is there, null if it cannot
 * be known (no permission to look), and then no check is made.
 */
function fileIdentity(path: string): string | null {
  try {
    const info = Deno.statSync(path);
    return `${info.dev}:${info.ino}`;
  } catch (error) {
    return error instanceof Deno.errors.NotFound ? "gone" : null;
  }
}

function toSession(row: Record<string, unknown>): SessionRecord {
  return {
    tokenHash: String(row["token_hash"]),
    userId: String(row["user_id"]),
    name: String(row["name"]),
    room: String(row["room"]),
    expiresAt: Number(row["expires_at"]),
  };
}
