/**
 * What every handler of a client message shares: the connection as the
 * hub tracks it, the context the hub gives handlers (store, clock, log,
 * limits, replies), and the steps several handlers take (checking the
 * connection has joined, spending a rate-limit token, storing and acking a
 * log entry). One module per message type sits beside this one.
 */

import {
  type ChatMessage,
  type ClientMessage,
  ProtocolError,
  type ServerMessage,
} from "../../../protocol/messages.ts";
import type { ChatMetrics } from "../../metrics.ts";
import {
  type ChatStore,
  type MessageDraft,
  STORE_RETRY_MS,
  StoreUnavailableError,
} from "../../store/store.ts";
import type { Peer } from "../peer.ts";
import type { TokenBucket } from "../rate_limit.ts";
import { holds, type Room, sendToPerson, type Session } from "../room.ts";

/** A socket as the hub tracks it, from its opening to its end. */
export interface Connection {
  peer: Peer;
  connectedAt: number;
  session: Session | null;
  room: Room | null;
  /** A hello is being answered: nothing else may start meanwhile. */
  joining: boolean;
  /**
   * Messages that arrived while an earlier one was still being handled
   * (a hello reading history); handled in order once it is done.
   */
  backlog: { message: ClientMessage; done: () => void }[];
  busy: boolean;
  /**
   * Refusals left before the connection counts as abusive; made at the
   * first refusal, since most connections never have one.
   */
  abuse: TokenBucket | null;
  /** The hello carried a valid moderator key. */
  moderator: boolean;
  /** The browser tab the hello named (`hello.tab`), if it did. */
  tab: string | null;
}

/** Per-user rate limits; kept across reconnects of the same session. */
export interface SessionLimits {
  send: TokenBucket;
  rename: TokenBucket;
  memberPages: TokenBucket;
  olderPages: TokenBucket;
}

/** What the hub gives every handler. */
export interface ChatContext {
  readonly store: ChatStore;
  readonly metrics: ChatMetrics;
  /** Minimum gap between two typing notices from one user. */
  readonly typingThrottleMs: number;
  /** Milliseconds since the Unix epoch. */
  now(): number;
  log(level: "debug" | "info" | "warn", message: string): void;
  /** Sends an error to one peer (and counts it). */
  replyError(peer: Peer, error: ProtocolError, ref?: string): void;
  limitsOf(session: Session): SessionLimits;
}

/** A handler returns a promise when later messages must wait for it. */
export type Handler<T extends ClientMessage> = (
  ctx: ChatContext,
  connection: Connection,
  message: T,
) => void | Promise<void>;

export function ackFrame(message: ChatMessage): string {
  return JSON.stringify(
    {
      type: "ack",
      id: message.clientId,
      seq: message.seq,
      time: message.time,
    } satisfies ServerMessage,
  );
}

/** Takes a token or throws `rate_limited` saying when to retry. */
export function spend(
  ctx: ChatContext,
  bucket: TokenBucket,
  what: string,
): void {
  const now = ctx.now();
  if (bucket.take(now)) return;
  const waitMs = bucket.waitMs(now);
  throw new ProtocolError(
    "rate_limited",
    `Too many ${what}; try again in ${Math.ceil(waitMs / 1000)} s`,
    waitMs,
  );
}

export function joined(
  connection: Connection,
): { session: Session; room: Room } {
  const { session, room } = connection;
  if (!session || !room || connection.joining) {
    throw new ProtocolError(
      "hello_required",
      'Send a "hello" message before anything else',
    );
  }
  return { session, room };
}

/**
 * A resend of something this person already stored (a send, edit or
 * delete with the same id) is acked again on this connection, whatever
 * has changed since (limits, windows); true when it was.
 */
export async function ackedAgain(
  connection: Connection,
  session: Session,
  room: Room,
  id: string,
): Promise<boolean> {
  const stored = await room.log.find(session.userId, id);
  if (stored) connection.peer.send(ackFrame(stored));
  return stored !== undefined;
}

/** Refuses with the time left while a moderator has this user muted. */
export function notMuted(ctx: ChatContext, session: Session, room: Room): void {
  const mutedMs = room.moderation.mutedFor(session.userId, ctx.now());
  if (mutedMs > 0) {
    throw new ProtocolError(
      "muted",
      `A moderator muted you; you can write again in ${
        Math.ceil(mutedMs / 60_000)
      } min`,
      mutedMs,
    );
  }
}

/**
 * Stores a message, edit or deletion and acks it to its author, on the
 * socket it has by then; a failure is reported with the request's id.
 * The send token already taken is given back if nothing new was stored.
 */
export function appendAndAck(
  ctx: ChatContext,
  session: Session,
  room: Room,
  bucket: TokenBucket,
  draft: MessageDraft,
  origin: Peer,
): void {
  room.hold();
  const metrics = ctx.metrics;
  const receivedAt = performance.now();
  // One `then` with both outcomes: this runs for every message.
  room.log.append(draft).then(
    ({ message, duplicate }) => {
      room.release();
      // Only new messages are charged: resends of stored ones cost nothing.
      if (duplicate) bucket.giveBack();
      else metrics.messagesStored++;
      try {
        // The author may have reconnected meanwhile: ack on its current
        // sockets (every tab: the one that sent it settles its outbox, the
        // others ignore an id they do not hold). Nothing here may throw out
        // of the handler (an unhandled rejection would end the process).
        if (sendToPerson(session, ackFrame(message)) > 0) {
          metrics.acks++;
          metrics.ackLatency.observe(performance.now() - receivedAt);
        }
      } catch (error) {
        ctx.log("warn", `acking a message failed: ${error}`);
      }
    },
    (error: unknown) => {
      room.release();
      bucket.giveBack();
      metrics.storeErrors++;
      ctx.log(
        "warn",
        `could not store a message in ${room.name}: ${error}`,
      );
      // To the tab that sent it, if still here; else to the person's socket.
      const peer = holds(session, origin) ? origin : session.peer;
      if (peer) {
        ctx.replyError(
          peer,
          error instanceof StoreUnavailableError
            ? new ProtocolError(
              "store_unavailable",
              "The message could not be stored right now; send it again later",
              STORE_RETRY_MS,
            )
            : new ProtocolError("server_error", "The message was not stored"),
          draft.clientId,
        );
      }
    },
  );
}
