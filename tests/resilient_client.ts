/**
 * A test client that behaves like the web page under faults: it reconnects
 * (to whichever instance it is pointed at), resumes with its token, epoch
 * and last seq, keeps an outbox of unacknowledged sends and resends them
 * after each welcome, and waits out `rate_limited`/`store_unavailable`.
 * It records everything it saw, for tests to check order and loss.
 */

import {
  type ChatMessage,
  type Member,
  parseServerFrame,
  type ServerMessage,
} from "../protocol/messages.ts";

export interface ResilientOptions {
  room: string;
  /** Where to (re)connect; called before each attempt. */
  url: () => string;
  /** Delay before a reconnect. */
  retryMs?: number;
}

export class ResilientClient {
  readonly options: ResilientOptions;
  you: Member | null = null;
  /** Every `you` seen, in order (a resume keeps the same one). */
  identities: Member[] = [];
  token: string | undefined;
  epoch: string | undefined;
  lastSeq = 0;
  /** Sends not yet acknowledged, by id. */
  readonly outbox = new Map<string, string>();
  /**
   * Acks received in the current epoch, by id: how many (duplicates are
   * allowed) and the seq.
   */
  readonly acks = new Map<string, { seq: number; count: number }>();
  /** Chat messages seen, by seq, in this epoch. */
  readonly seen = new Map<number, ChatMessage>();
  /** Seqs in the order they were received (history and live). */
  readonly order: number[] = [];
  /** Seqs received twice (should stay empty). */
  readonly repeated: number[] = [];
  readonly welcomes: Extract<ServerMessage, { type: "welcome" }>[] = [];
  readonly received: ServerMessage[] = [];
  readonly errors: Extract<ServerMessage, { type: "error" }>[] = [];
  closes = 0;
  #socket: WebSocket | null = null;
  #stopped = false;
  /** History frames still to come after a welcome: hold resends until then. */
  #historyPending = false;
  #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  #waiters: (() => void)[] = [];

  constructor(options: ResilientOptions) {
    this.options = options;
  }

  get connected(): boolean {
    return this.#socket?.readyState === WebSocket.OPEN && this.you !== null;
  }

  connect(): void {
    if (this.#stopped) return;
    const socket = new WebSocket(this.options.url());
    this.#socket = socket;
    socket.onopen = () => {
      const hello: Record<string, unknown> = {
        type: "hello",
        room: this.options.room,
      };
      if (this.token) hello.resumeToken = this.token;
      if (this.epoch) {
        hello.epoch = this.epoch;
        hello.lastSeq = this.lastSeq;
      }
      socket.send(JSON.stringify(hello));
    };
    socket.onmessage = (event) => {
      for (const message of parseServerFrame(String(event.data)) ?? []) {
        this.#handle(message);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    };
    socket.onerror = () => {};
    socket.onclose = () => {
      if (this.#socket !== socket) return;
      this.closes++;
      this.#socket = null;
      this.you = null;
      if (!this.#stopped) {
        const timer = setTimeout(() => {
          this.#retryTimers.delete(timer);
          this.connect();
        }, this.options.retryMs ?? 200);
        this.#retryTimers.add(timer);
      }
      for (const wake of this.#waiters.splice(0)) wake();
    };
  }

  #record(message: ChatMessage): void {
    const known = this.seen.get(message.seq);
    if (known) {
      this.repeated.push(message.seq);
      return;
    }
    this.seen.set(message.seq, message);
    this.order.push(message.seq);
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    if (this.you && message.from.id === this.you.id) {
      this.outbox.delete(message.clientId);
    }
  }

  #handle(message: ServerMessage): void {
    this.received.push(message);
    switch (message.type) {
      case "welcome":
        this.welcomes.push(message);
        if (this.epoch !== undefined && message.epoch !== this.epoch) {
          // A new history: old seqs (and acks) mean nothing any more.
          this.seen.clear();
          this.acks.clear();
          this.order.length = 0;
          this.lastSeq = 0;
        }
        this.epoch = message.epoch;
        this.token = message.resumeToken;
        this.you = message.you;
        this.identities.push(message.you);
        for (const m of message.history) this.#record(m);
        this.#historyPending = message.moreHistory;
        if (!this.#historyPending) this.#resend();
        return;
      case "history":
        for (const m of message.messages) this.#record(m);
        if (!message.more) {
          this.#historyPending = false;
          this.#resend();
        }
        return;
      case "chat":
        this.#record(message.message);
        return;
      case "ack": {
        const ack = this.acks.get(message.id);
        this.acks.set(message.id, {
          seq: message.seq,
          count: (ack?.count ?? 0) + 1,
        });
        this.outbox.delete(message.id);
        return;
      }
      case "error": {
        this.errors.push(message);
        const ref = message.ref;
        if (
          ref !== undefined && this.outbox.has(ref) &&
          (message.code === "rate_limited" ||
            message.code === "store_unavailable")
        ) {
          const text = this.outbox.get(ref) ?? "";
          const timer = setTimeout(() => {
            this.#retryTimers.delete(timer);
            if (this.outbox.has(ref)) this.#transmit(ref, text);
          }, message.retryAfterMs ?? 1000);
          this.#retryTimers.add(timer);
        }
        return;
      }
    }
  }

  #resend(): void {
    for (const [id, text] of this.outbox) this.#transmit(id, text);
  }

  #transmit(id: string, text: string): void {
    if (this.#socket?.readyState !== WebSocket.OPEN || this.you === null) {
      return;
    }
    if (this.#historyPending) return;
    this.#socket.send(JSON.stringify({ type: "send", id, text }));
  }

  /** Queues a message; it goes out now if connected, else after a welcome. */
  send(id: string, text: string): void {
    this.outbox.set(id, text);
    this.#transmit(id, text);
  }

  /** Waits until `condition` holds, or throws after `timeoutMs`. */
  async until(
    condition: () => boolean,
    what: string,
    timeoutMs = 20_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`Timed out waiting for ${what}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, Math.min(left, 200));
      });
      clearTimeout(timer);
    }
  }

  /** Names of those this client was told left (events and summaries). */
  leftIds(): string[] {
    return this.received.flatMap((m) =>
      m.type === "left"
        ? [m.member.id]
        : m.type === "presence"
        ? m.left.map((l) => l.id)
        : []
    );
  }

  /** Never reconnects once this connection ends (a user who walks away). */
  abandon(): void {
    this.#stopped = true;
  }

  /** Stops for good: no reconnect. */
  stop(): void {
    this.#stopped = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#socket?.close();
    this.#socket = null;
  }
}
