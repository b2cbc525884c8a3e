/**
 * The store shared by every instance of a cluster: each room's log is a
 * Redis stream written by one atomic script (dedupe → next seq → append →
 * remember the client id → publish), so any number of instances hand out
 * one contiguous sequence per room. Followers hear of commits through the
 * room's sharded pub/sub channel, and fill any gap (a lost connection, a
 * message published while they were subscribing) from the stream itself.
 */

import type { ChatMessage } from "../../protocol/messages.ts";
import { DEFAULT_RETENTION } from "../store/memory_store.ts";
import {
  type Appended,
  type ChatStore,
  type Committed,
  dedupeKey,
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
} from "../store/store.ts";
import type { RedisLink } from "./link.ts";
import type { RoomChannels } from "./room_channels.ts";
import {
  AFTER,
  APPEND,
  BEFORE,
  CLAIM_NAME,
  CLEAR,
  FIND,
  READ,
  RELEASE_NAME,
} from "./scripts.ts";

/** Messages fetched per round trip when filling a gap. */
const FILL_BATCH = 1_000;
/** The second look for missed messages after a reconnect. */
const REFILL_AFTER_READY_MS = 1_000;

function parseMessage(json: unknown): ChatMessage {
  return JSON.parse(String(json)) as ChatMessage;
}

function asList(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) {
    throw new TypeError(`Unexpected reply from Redis: ${String(reply)}`);
  }
  return reply;
}

/**
 * Turns the room's channel into an ordered stream of commits: each seq
 * once, in order, whatever pub/sub dropped or delivered twice.
 */
class LogTail {
  #log: RedisRoomLog;
  #followers = new Set<LogFollower>();
  #stop: (() => void) | null = null;
  /** Resolves when the subscription is confirmed and the position known. */
  ready: Promise<void> = Promise.resolve();
  #epoch = "";
  #last = 0;
  #started = false;
  #filling = false;
  /** Commits heard while starting or filling, applied after. */
  #held: Committed[] = [];
  #stopReady: (() => void) | null = null;

  constructor(log: RedisRoomLog) {
    this.#log = log;
  }

  add(follower: LogFollower): () => void {
    this.#followers.add(follower);
    if (this.#followers.size === 1) this.#start();
    return () => {
      if (!this.#followers.delete(follower)) return;
      if (this.#followers.size === 0) this.#end();
    };
  }

  #start(): void {
    const { ready, stop } = this.#log.channels.listen(
      this.#log.room,
      (payload) => this.#heard(payload),
    );
    this.#stop = stop;
    this.#stopReady = this.#log.link.onReady(() => {
      this.#fill();
      // node-redis may resubscribe just after "ready": what was published
      // in between shows up as a gap only when the next message comes, so
      // look once more a moment later, for a room that has gone quiet.
      setTimeout(() => this.#fill(), REFILL_AFTER_READY_MS);
    });
    this.ready = ready.then(async () => {
      try {
        const { epoch, lastSeq } = await this.#log.read({ recent: 0 }, false);
        this.#epoch = epoch;
        this.#last = lastSeq;
      } catch {
        // Redis is down: the next "ready" fills from the start of the epoch
        // the first heard commit names.
      }
      this.#started = true;
      this.#applyHeld();
    });
  }

  #end(): void {
    this.#stop?.();
    this.#stopReady?.();
    this.#stop = null;
    this.#stopReady = null;
    this.#started = false;
    this.#held = [];
  }

  #heard(payload: string): void {
    if (!payload.startsWith("c")) return;
    const newline = payload.indexOf("\n");
    const committed: Committed = {
      epoch: payload.slice(1, newline),
      message: parseMessage(payload.slice(newline + 1)),
    };
    if (!this.#started || this.#filling) {
      this.#held.push(committed);
      return;
    }
    this.#apply(committed);
  }

  #apply({ epoch, message }: Committed): void {
    if (epoch !== this.#epoch) {
      // A new history (Redis lost its data): it starts again from seq 1.
      this.#epoch = epoch;
      this.#last = 0;
    }
    if (message.seq <= this.#last) return;
    if (message.seq > this.#last + 1) {
      this.#held.push({ epoch, message });
      this.#fill();
      return;
    }
    this.#last = message.seq;
    for (const follower of this.#followers) follower({ epoch, message });
  }

  #applyHeld(): void {
    const held = this.#held.sort((a, b) => a.message.seq - b.message.seq);
    this.#held = [];
    for (const committed of held) {
      if (this.#filling) this.#held.push(committed);
      else this.#apply(committed);
    }
  }

  /** Reads what follows the last commit told, until caught up. */
  #fill(): void {
    if (this.#filling || !this.#started) return;
    this.#filling = true;
    (async () => {
      try {
        while (this.#followers.size > 0) {
          const { epoch, messages } = await this.#log.after(
            this.#epoch,
            this.#last,
            FILL_BATCH,
          );
          if (epoch === "") break;
          for (const message of messages) {
            if (epoch !== this.#epoch) {
              this.#epoch = epoch;
              this.#last = 0;
            }
            if (message.seq !== this.#last + 1) continue;
            this.#last = message.seq;
            for (const follower of this.#followers) {
              follower({ epoch, message });
            }
          }
          if (messages.length < FILL_BATCH) break;
        }
      } catch {
        // Redis went away again: the next "ready" fills.
      } finally {
        this.#filling = false;
      }
      this.#applyHeld();
    })();
  }
}

export class RedisRoomLog implements RoomLog {
  readonly room: string;
  readonly link: RedisLink;
  readonly channels: RoomChannels;
  #keys: {
    meta: string;
    log: string;
    dedupe: string;
    channel: string;
    redacted: string;
  };
  #retention: number;
  #newEpoch: () => string;
  #tail: LogTail;

  constructor(
    room: string,
    link: RedisLink,
    channels: RoomChannels,
    retention: number,
    newEpoch: () => string,
  ) {
    this.room = room;
    this.link = link;
    this.channels = channels;
    this.#retention = retention;
    this.#newEpoch = newEpoch;
    this.#keys = {
      meta: channels.key(room, "meta"),
      log: channels.key(room, "log"),
      dedupe: channels.key(room, "dedupe"),
      channel: channels.channel(room),
      redacted: channels.key(room, "redacted"),
    };
    this.#tail = new LogTail(this);
  }

  async append(draft: MessageDraft): Promise<Appended> {
    const k = this.#keys;
    // The message's JSON without its seq; the script puts the seq first.
    const rest = JSON.stringify({
      time: draft.time,
      from: draft.from,
      clientId: draft.clientId,
      text: draft.text,
      kind: draft.kind,
      target: draft.target,
      moderator: draft.moderator,
    }).slice(1);
    const [epoch, duplicate, json] = asList(
      await this.link.run(APPEND, [
        k.meta,
        k.log,
        k.dedupe,
        k.channel,
        k.redacted,
      ], [
        this.#newEpoch(),
        dedupeKey(draft.from.id, draft.clientId),
        rest,
        String(this.#retention),
        draft.kind === "delete" && draft.target !== undefined
          ? String(draft.target)
          : "",
      ]),
    );
    return {
      epoch: String(epoch),
      duplicate: Number(duplicate) === 1,
      message: parseMessage(json),
    };
  }

  async find(
    authorId: string,
    clientId: string,
  ): Promise<ChatMessage | undefined> {
    const k = this.#keys;
    const json = await this.link.run(FIND, [k.dedupe, k.log, k.redacted], [
      dedupeKey(authorId, clientId),
    ]);
    return json ? parseMessage(json) : undefined;
  }

  /**
   * Reads what a welcome needs. While a follower is starting, waits for it,
   * so nothing committed after the read can slip past the follower.
   */
  async read(query: HistoryQuery, waitForTail = true): Promise<History> {
    if (waitForTail) await this.#tail.ready;
    const k = this.#keys;
    const resume = query.resume;
    const [epoch, lastSeq, recovered, ...messages] = asList(
      await this.link.run(READ, [k.meta, k.log, k.redacted], [
        this.#newEpoch(),
        String(query.recent),
        resume?.epoch ?? "",
        String(resume?.afterSeq ?? 0),
        String(resume?.limit ?? 0),
      ]),
    );
    return {
      epoch: String(epoch),
      lastSeq: Number(lastSeq),
      recovered: Number(recovered) === 1,
      messages: messages.map(parseMessage),
    };
  }

  async readBefore(beforeSeq: number, limit: number): Promise<OlderPage> {
    const k = this.#keys;
    const [epoch, start, ...messages] = asList(
      await this.link.run(BEFORE, [k.meta, k.log, k.redacted], [
        String(Math.max(1, beforeSeq)),
        String(limit),
      ]),
    );
    return {
      epoch: String(epoch),
      start: Number(start) === 1,
      messages: limit > 0 ? messages.map(parseMessage) : [],
    };
  }

  async readAfter(afterSeq: number, limit: number): Promise<ChatMessage[]> {
    const { epoch } = await this.read({ recent: 0 });
    const page = await this.after(epoch, afterSeq, limit);
    // The history was replaced between the two reads: nothing after.
    return page.epoch === epoch ? page.messages : [];
  }

  async clear(): Promise<string> {
    const k = this.#keys;
    return String(
      await this.link.run(CLEAR, [k.meta, k.log, k.dedupe, k.redacted], [
        this.#newEpoch(),
      ]),
    );
  }

  /** Messages after `afterSeq` (from 1 if the epoch changed). */
  async after(
    epoch: string,
    afterSeq: number,
    count: number,
  ): Promise<{ epoch: string; messages: ChatMessage[] }> {
    const k = this.#keys;
    const [current, ...messages] = asList(
      await this.link.run(AFTER, [k.meta, k.log, k.redacted], [
        epoch,
        String(afterSeq),
        String(count),
      ]),
    );
    return { epoch: String(current), messages: messages.map(parseMessage) };
  }

  follow(follower: LogFollower): () => void {
    return this.#tail.add(follower);
  }
}

export interface RedisStoreOptions {
  link: RedisLink;
  channels: RoomChannels;
  retention?: number;
  newEpoch?: () => string;
  log?: (level: "warn", message: string) => void;
}

export class RedisStore implements ChatStore {
  #link: RedisLink;
  #channels: RoomChannels;
  #retention: number;
  #newEpoch: () => string;
  #rooms = new Map<string, RedisRoomLog>();
  #log: NonNullable<RedisStoreOptions["log"]>;
  /** Session writes not yet answered, so `flush` can wait for them. */
  #writes = new Set<Promise<void>>();
  /** Session writes in flight, uncaught, for `sessionsDurable`. */
  #sessionWrites = new Set<Promise<unknown>>();

  constructor(options: RedisStoreOptions) {
    this.#link = options.link;
    this.#channels = options.channels;
    this.#retention = options.retention ?? DEFAULT_RETENTION;
    this.#newEpoch = options.newEpoch ?? (() => crypto.randomUUID());
    this.#log = options.log ?? (() => {});
  }

  openRoom(room: string): RoomLog {
    let log = this.#rooms.get(room);
    if (!log) {
      log = new RedisRoomLog(
        room,
        this.#link,
        this.#channels,
        this.#retention,
        this.#newEpoch,
      );
      this.#rooms.set(room, log);
    }
    return log;
  }

  releaseRoom(room: string): void {
    this.#rooms.delete(room);
  }

  async loadModeration(room: string): Promise<string | null> {
    const [state] = await this.#link.hVals(
      this.#channels.key(room, "moderation"),
    );
    return state ?? null;
  }

  saveModeration(room: string, state: string | null): void {
    const key = this.#channels.key(room, "moderation");
    this.#write(
      "save the moderation of a room",
      (state === null
        ? this.#link.hDel(key, "state")
        : this.#link.hSet(key, "state", state)).then(() => {}),
    );
  }

  async sessionsInRoom(room: string): Promise<SessionRecord[]> {
    const values = await this.#link.hVals(
      this.#channels.key(room, "sessions"),
    );
    return values.map((json) => JSON.parse(json) as SessionRecord);
  }

  #write(what: string, write: Promise<void>): void {
    const tracked = write.catch((error) => {
      this.#log("warn", `could not ${what}: ${error}`);
    });
    this.#writes.add(tracked);
    tracked.finally(() => this.#writes.delete(tracked));
  }

  putSession(record: SessionRecord): void {
    const write = this.#link.hSet(
      this.#channels.key(record.room, "sessions"),
      record.tokenHash,
      JSON.stringify(record),
    );
    this.#sessionWrites.add(write);
    const forget = () => this.#sessionWrites.delete(write);
    write.then(forget, forget);
    this.#write("save a session", write);
  }

  async sessionsDurable(): Promise<void> {
    try {
      await Promise.all([...this.#sessionWrites]);
    } catch (error) {
      throw error instanceof StoreUnavailableError
        ? error
        : new StoreUnavailableError(`a session was not saved: ${error}`, {
          cause: error,
        });
    }
  }

  health(): StoreHealth {
    return this.#link.up
      ? { ok: true }
      : { ok: false, reason: "Redis is not reachable" };
  }

  deleteSession(room: string, tokenHash: string): void {
    this.#write(
      "delete a session",
      this.#link.hDel(this.#channels.key(room, "sessions"), tokenHash),
    );
  }

  async claimName(claim: NameClaim): Promise<boolean> {
    const claimed = await this.#link.run(
      CLAIM_NAME,
      [this.#channels.key(claim.room, "names")],
      [
        claim.skeleton,
        claim.userId,
        claim.previous ?? "",
        "",
      ],
    );
    return Number(claimed) === 1;
  }

  releaseName(room: string, userId: string, skeleton: string): void {
    this.#write(
      "free a name",
      this.#link.run(
        RELEASE_NAME,
        [this.#channels.key(room, "names")],
        [skeleton, userId],
      ).then(() => {}),
    );
  }

  async flush(): Promise<void> {
    await Promise.all([...this.#writes]);
  }

  async close(): Promise<void> {
    await this.flush();
  }
}
