/**
 * A reconnecting WebSocket in the spirit of partysocket's
 * ReconnectingWebSocket: exponential backoff with full jitter, a counter
 * that resets once a connection has been stable, and listeners detached from
 * every socket it leaves behind. The socket constructor, timers, clock and
 * randomness are injectable so tests drive it without a network.
 */

import {
  type ClientMessage,
  CLOSE_CODES,
  type HelloMessage,
  parseServerFrame,
  type ServerMessage,
} from "../protocol/messages.ts";

/** The part of the WebSocket API the connection needs. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

export type SocketConstructor = new (url: string) => SocketLike;

const OPEN = 1;

export type ConnectionStatus =
  | { readonly phase: "connecting" }
  /** Welcomed: the room is joined and messages can be sent. */
  | { readonly phase: "open" }
  | {
    readonly phase: "reconnecting";
    /** Clock time of the next attempt. */
    readonly retryAt: number;
    /** The last attempt never reached the server at all. */
    readonly unreachable: boolean;
  }
  | {
    readonly phase: "closed";
    readonly reason: "replaced" | "stopped" | "kicked" | "locked";
  };

export interface ConnectionOptions {
  url: string;
  /** Builds the hello for each new socket, so it carries the latest state. */
  hello: () => HelloMessage;
  onMessage: (message: ServerMessage) => void;
  onStatus: (status: ConnectionStatus) => void;
  WebSocket?: SocketConstructor;
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  setTimer?: (callback: () => void, ms: number) => () => void;
  now?: () => number;
  random?: () => number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** A welcomed connection this old resets the backoff. */
  stableAfterMs?: number;
}

export const BASE_DELAY_MS = 1000;
export const MAX_DELAY_MS = 30_000;
export const STABLE_AFTER_MS = 10_000;

/**
 * Full-jitter backoff: a uniform delay in [0, min(cap, base·2^attempt)), so a
 * crowd of clients dropped by one restart does not come back in lockstep.
 */
export function backoffDelay(
  attempt: number,
  random: () => number,
  baseMs = BASE_DELAY_MS,
  capMs = MAX_DELAY_MS,
): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

function defaultSetTimer(callback: () => void, ms: number): () => void {
  const id = setTimeout(callback, ms);
  return () => clearTimeout(id);
}

const EVENTS = ["open", "message", "close", "error"] as const;

export class Connection {
  readonly #options: ConnectionOptions;
  readonly #Socket: SocketConstructor;
  readonly #setTimer: (callback: () => void, ms: number) => () => void;
  readonly #now: () => number;
  readonly #random: () => number;

  #socket: SocketLike | undefined;
  #detach: (() => void) | undefined;
  #attempt = 0;
  #opened = false;
  #welcomed = false;
  #retryTimer: (() => void) | undefined;
  #stableTimer: (() => void) | undefined;
  #status: ConnectionStatus = { phase: "closed", reason: "stopped" };

  constructor(options: ConnectionOptions) {
    this.#options = options;
    this.#Socket = options.WebSocket ?? globalThis.WebSocket;
    this.#setTimer = options.setTimer ?? defaultSetTimer;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  get status(): ConnectionStatus {
    return this.#status;
  }

  /** Consecutive failed attempts since the last stable connection. */
  get attempt(): number {
    return this.#attempt;
  }

  /** True once the server has welcomed this socket. */
  get isOpen(): boolean {
    return this.#welcomed;
  }

  start(): void {
    if (this.#socket === undefined && this.#retryTimer === undefined) {
      this.#connect();
    }
  }

  /** Closes for good; no reconnection follows. */
  stop(): void {
    this.#clearTimers();
    const socket = this.#socket;
    this.#drop();
    socket?.close(CLOSE_CODES.normal);
    this.#setStatus({ phase: "closed", reason: "stopped" });
  }

  /**
   * Sends a message on a welcomed socket. Returns false when there is none,
   * so callers keep the message queued for the next welcome.
   */
  send(message: ClientMessage): boolean {
    const socket = this.#socket;
    if (!this.#welcomed || socket === undefined || socket.readyState !== OPEN) {
      return false;
    }
    socket.send(JSON.stringify(message));
    return true;
  }

  /** Connects now when waiting to reconnect or after being replaced. */
  retryNow(): void {
    const phase = this.#status.phase;
    if (phase === "reconnecting" || phase === "closed") this.#connect();
  }

  /**
   * Connects now only if waiting out a backoff delay; for the browser's
   * `online` event and the page becoming visible.
   */
  wake(): void {
    if (this.#status.phase === "reconnecting") this.#connect();
  }

  #connect(): void {
    this.#clearTimers();
    const stale = this.#socket;
    this.#drop();
    stale?.close(CLOSE_CODES.normal);
    this.#opened = false;
    this.#setStatus({ phase: "connecting" });
    let socket: SocketLike;
    try {
      socket = new this.#Socket(this.#options.url);
    } catch {
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    const listener = (event: Event) => this.#onEvent(socket, event);
    for (const type of EVENTS) socket.addEventListener(type, listener);
    this.#detach = () => {
      for (const type of EVENTS) socket.removeEventListener(type, listener);
    };
  }

  #onEvent(socket: SocketLike, event: Event): void {
    // A late event from a socket this connection already left behind.
    if (socket !== this.#socket) return;
    switch (event.type) {
      case "open":
        this.#opened = true;
        socket.send(JSON.stringify(this.#options.hello()));
        break;
      case "message":
        this.#onFrame(event);
        break;
      case "close":
        this.#onClose(event);
        break;
        // "error" is always followed by "close", which does the work.
    }
  }

  #onFrame(event: Event): void {
    if (!(event instanceof MessageEvent) || typeof event.data !== "string") {
      return;
    }
    const messages = parseServerFrame(event.data);
    if (messages === null) {
      console.warn("Ignoring a malformed server frame");
      return;
    }
    for (const message of messages) this.#onMessage(message);
  }

  #onMessage(message: ServerMessage): void {
    const welcome = message.type === "welcome";
    if (welcome) {
      this.#welcomed = true;
      this.#stableTimer?.();
      this.#stableTimer = this.#setTimer(() => {
        this.#stableTimer = undefined;
        this.#attempt = 0;
      }, this.#options.stableAfterMs ?? STABLE_AFTER_MS);
    }
    this.#options.onMessage(message);
    if (welcome && this.#welcomed) this.#setStatus({ phase: "open" });
  }

  #onClose(event: Event): void {
    const code = event instanceof CloseEvent ? event.code : 1006;
    this.#clearTimers();
    this.#drop();
    if (code === CLOSE_CODES.kicked || code === CLOSE_CODES.locked) {
      // Reconnecting would be refused again: wait for "Retry now".
      this.#setStatus({
        phase: "closed",
        reason: code === CLOSE_CODES.kicked ? "kicked" : "locked",
      });
      return;
    }
    if (code === CLOSE_CODES.replaced) {
      this.#setStatus({ phase: "closed", reason: "replaced" });
      return;
    }
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    const delay = backoffDelay(
      this.#attempt,
      this.#random,
      this.#options.baseDelayMs,
      this.#options.maxDelayMs,
    );
    this.#attempt++;
    this.#setStatus({
      phase: "reconnecting",
      retryAt: this.#now() + delay,
      unreachable: !this.#opened,
    });
    this.#retryTimer = this.#setTimer(() => {
      this.#retryTimer = undefined;
      this.#connect();
    }, delay);
  }

  /** Forgets the current socket and its listeners without closing it. */
  #drop(): void {
    this.#detach?.();
    this.#detach = undefined;
    this.#socket = undefined;
    this.#welcomed = false;
  }

  #clearTimers(): void {
    this.#retryTimer?.();
    this.#stableTimer?.();
    this.#retryTimer = undefined;
    this.#stableTimer = undefined;
  }

  #setStatus(status: ConnectionStatus): void {
    this.#status = status;
    this.#options.onStatus(status);
  }
}
