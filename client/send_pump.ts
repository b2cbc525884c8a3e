/**
 * Decides when outbox entries go out. At most a few are in flight at once,
 * and a `rate_limited` answer pauses sending for as long as the server asks,
 * then resends the same id. Without this, a long outbox flushed after a
 * reconnect would hit the rate limit and, refused again and again, get the
 * connection closed as abusive. Pure: sending and timers are injected.
 */

/** Sends without an ack yet; small enough to stay inside the server's burst. */
export const MAX_IN_FLIGHT = 5;

export interface SendPumpOptions {
  /** Ids of the entries waiting to go out, oldest first. */
  pending: () => readonly { id: string; text: string }[];
  /** Sends one entry; false when there is no open connection. */
  send: (id: string, text: string) => boolean;
  /** Runs `callback` after `ms`; returns a function that cancels it. */
  setTimer: (callback: () => void, ms: number) => () => void;
  maxInFlight?: number;
}

export class SendPump {
  #options: SendPumpOptions;
  #inFlight = new Set<string>();
  #pausedUntilTimer: (() => void) | undefined;

  constructor(options: SendPumpOptions) {
    this.#options = options;
  }

  /** Sends whatever may go out now. Call after any change. */
  pump(): void {
    if (this.#pausedUntilTimer) return;
    const max = this.#options.maxInFlight ?? MAX_IN_FLIGHT;
    for (const entry of this.#options.pending()) {
      if (this.#inFlight.size >= max) return;
      if (this.#inFlight.has(entry.id)) continue;
      if (!this.#options.send(entry.id, entry.text)) return;
      this.#inFlight.add(entry.id);
    }
  }

  /** A new connection: nothing is in flight on it yet. */
  reset(): void {
    this.#inFlight.clear();
    this.#pausedUntilTimer?.();
    this.#pausedUntilTimer = undefined;
    this.pump();
  }

  /** The server stored (or refused for good) this entry. */
  settled(id: string): void {
    if (this.#inFlight.delete(id)) this.pump();
  }

  /** The server asked to wait before sending `id` again. */
  rateLimited(id: string, retryAfterMs: number): void {
    this.#inFlight.delete(id);
    this.#pausedUntilTimer?.();
    this.#pausedUntilTimer = this.#options.setTimer(() => {
      this.#pausedUntilTimer = undefined;
      this.pump();
    }, Math.max(100, retryAfterMs));
  }
}
