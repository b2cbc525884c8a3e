/**
 * The only caller of `Deno.upgradeWebSocket`: turns socket events into
 * validated messages for the hub and adapts the socket to a `Peer`.
 */

import {
  CLOSE_CODES,
  MAX_FRAME_BYTES_HARD,
  parseClientMessage,
  ProtocolError,
  utf8Length,
} from "../protocol/messages.ts";
import type { Hub } from "./chat/hub.ts";
import type { Peer } from "./chat/peer.ts";

/**
 * Deno pings a silent peer after half of this many seconds and closes it
 * (1001) if no pong comes by the full timeout: a dead peer is gone within it.
 */
const IDLE_TIMEOUT_SECONDS = 15;

/**
 * Outbound bytes queued for one peer before it counts as not reading. Deno's
 * `send` queues without limit, so a stalled client would otherwise grow the
 * server's memory for as long as the room is busy.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * After the server closes a socket, Deno reports the close only once the
 * peer answers it, and a hostile or frozen peer may never do so. Its
 * connection slot is given back after this long regardless.
 */
const CLOSE_DEADLINE_MS = 5_000;

/**
 * A stream (see `Peer.stream`) makes its next frame only while fewer than
 * this many bytes wait in Deno's send buffer, and otherwise looks again
 * after STREAM_RETRY_MS. Small, because the budget is per socket: 3,000
 * joiners × 4 KiB is 12 MB at worst.
 */
const STREAM_LOW_WATER_BYTES = 4 * 1024;
const STREAM_RETRY_MS = 5;

/**
 * Frames that may wait behind a stream for one socket. Only room events
 * wait there, a few a second; a client that lets this many pile up is not
 * reading, like one past MAX_BUFFERED_BYTES.
 */
const MAX_WAITING_FRAMES = 1_000;

/**
 * Peer ids only need to be unique within this process; a counter is cheaper
 * to hold per connection than a UUID.
 */
let lastPeerId = 0;

/** Upgrades `request` and attaches the socket to `hub`. */
export function upgradeToChat(
  request: Request,
  hub: Hub,
  onClosed: () => void = () => {},
  onUnexpectedError: (error: unknown) => void = console.error,
  address?: string,
): Response {
  const { socket, response } = Deno.upgradeWebSocket(request, {
    idleTimeout: IDLE_TIMEOUT_SECONDS,
  });
  new SocketPeer(socket, hub, onClosed, onUnexpectedError, address);
  return response;
}

/**
 * One socket as the hub's `Peer`. A class whose methods live on the
 * prototype, and which is itself the socket's event listener, so an idle
 * connection holds one object here rather than a handful of closures.
 */
/** What SocketPeer uses of a WebSocket; tests pass a fake. */
export type PeerSocket = Pick<
  WebSocket,
  "readyState" | "bufferedAmount" | "send" | "close" | "addEventListener"
>;

export class SocketPeer implements Peer, EventListenerObject {
  readonly id = String(++lastPeerId);
  readonly address?: string;
  #socket: PeerSocket;
  #hub: Hub;
  #onClosed: () => void;
  #onUnexpectedError: (error: unknown) => void;
  #deadline: ReturnType<typeof setTimeout> | undefined;
  #finished = false;
  /** The server started the close (counted then, not again at the event). */
  #closedHere = false;
  /**
   * What must go out before anything new, in order: streams being
   * produced and frames sent while they were. Empty almost always.
   */
  #waiting: (string | Iterator<string>)[] = [];
  #pumpTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    socket: PeerSocket,
    hub: Hub,
    onClosed: () => void,
    onUnexpectedError: (error: unknown) => void,
    address?: string,
  ) {
    if (address !== undefined) this.address = address;
    this.#socket = socket;
    this.#hub = hub;
    this.#onClosed = onClosed;
    this.#onUnexpectedError = onUnexpectedError;
    for (const type of ["open", "message", "close", "error"]) {
      socket.addEventListener(type, this);
    }
  }

  send(frame: string): void {
    const socket = this.#socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    if (
      socket.bufferedAmount > MAX_BUFFERED_BYTES ||
      this.#waiting.length >= MAX_WAITING_FRAMES
    ) {
      this.close(CLOSE_CODES.policyViolation, "Not reading fast enough");
      return;
    }
    if (this.#waiting.length > 0) {
      this.#waiting.push(frame);
      return;
    }
    socket.send(frame);
  }

  stream(frames: Iterator<string>): void {
    this.#waiting.push(frames);
    if (this.#waiting.length === 1) this.#pump();
  }

  /**
   * Runs the pump from its timer. A bug in making a frame must cost this
   * connection, not the process (an exception in a timer would end it).
   */
  #pumpLater(): void {
    try {
      this.#pump();
    } catch (error) {
      this.#waiting.length = 0;
      this.#onUnexpectedError(error);
      this.close(CLOSE_CODES.internalError, "Server error");
    }
  }

  /**
   * Sends what is waiting while the socket keeps up; retries later if not.
   * What still waits when the socket closes is dropped, like Deno drops
   * unsent frames: a client that comes back resumes and replays the chat.
   */
  #pump(): void {
    this.#pumpTimer = undefined;
    const socket = this.#socket;
    const waiting = this.#waiting;
    while (waiting.length > 0) {
      if (socket.readyState !== WebSocket.OPEN) {
        waiting.length = 0;
        return;
      }
      if (socket.bufferedAmount > STREAM_LOW_WATER_BYTES) {
        this.#pumpTimer = setTimeout(() => this.#pumpLater(), STREAM_RETRY_MS);
        return;
      }
      const head = waiting[0]!;
      if (typeof head === "string") {
        waiting.shift();
        socket.send(head);
        continue;
      }
      const next = head.next();
      if (next.done) waiting.shift();
      else socket.send(next.value);
    }
  }

  close(code: number, reason: string): void {
    const socket = this.#socket;
    if (socket.readyState >= WebSocket.CLOSING) return;
    this.#closedHere = true;
    this.#hub.metrics.closedByServer(reason);
    try {
      socket.close(code, reason);
    } catch {
      // Already failing; the close event will follow.
    }
    // The peer is out of the room now, not when it gets round to answering
    // the close.
    this.#hub.disconnect(this.id);
    this.#deadline ??= setTimeout(() => this.#finish(), CLOSE_DEADLINE_MS);
  }

  handleEvent(event: Event): void {
    switch (event.type) {
      case "open":
        this.#hub.connect(this);
        return;
      case "message":
        this.#receive((event as MessageEvent<unknown>).data);
        return;
      case "close":
        if (!this.#closedHere && !this.#finished) {
          this.#hub.metrics.closedByPeer((event as CloseEvent).code);
        }
        // Deno may report one socket's end more than once; finish runs once.
        this.#finish();
        return;
    }
  }

  #receive(data: unknown): void {
    if (typeof data !== "string") {
      this.close(CLOSE_CODES.unsupportedData, "Text frames only");
      return;
    }
    if (utf8Length(data, MAX_FRAME_BYTES_HARD) > MAX_FRAME_BYTES_HARD) {
      this.close(CLOSE_CODES.tooBig, "Frame too large");
      return;
    }
    const hub = this.#hub;
    try {
      hub.receive(this.id, parseClientMessage(data));
    } catch (error) {
      if (error instanceof ProtocolError) {
        hub.refuse(this.id, error);
        return;
      }
      // A bug must cost one reply, never the process and everyone's chat.
      this.#onUnexpectedError(error);
      hub.replyError(
        this,
        new ProtocolError("server_error", "The server could not handle that"),
      );
    }
  }

  #finish(): void {
    clearTimeout(this.#deadline);
    clearTimeout(this.#pumpTimer);
    this.#waiting.length = 0;
    if (this.#finished) return;
    this.#finished = true;
    this.#hub.disconnect(this.id);
    this.#onClosed();
  }
}
