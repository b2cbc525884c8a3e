/**
 * Token buckets for rate limits. Pure: the caller passes the time, so tests
 * need no clock.
 */

export interface BucketRule {
  /** Tokens the bucket holds when full: the allowed burst. */
  capacity: number;
  /** Tokens added per second. */
  refillPerSecond: number;
}

export class TokenBucket {
  #rule: BucketRule;
  #tokens: number;
  #updatedAt: number;

  constructor(rule: BucketRule, now: number) {
    this.#rule = rule;
    this.#tokens = rule.capacity;
    this.#updatedAt = now;
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#updatedAt) / 1000;
    this.#tokens = Math.min(
      this.#rule.capacity,
      this.#tokens + elapsed * this.#rule.refillPerSecond,
    );
    this.#updatedAt = now;
  }

  /** Takes one token if there is one; returns whether it did. */
  take(now: number): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Returns a token taken for something that turned out to be free. */
  giveBack(): void {
    this.#tokens = Math.min(this.#rule.capacity, this.#tokens + 1);
  }

  /** Milliseconds until one token is available. */
  waitMs(now: number): number {
    this.#refill(now);
    if (this.#tokens >= 1) return 0;
    return Math.ceil(((1 - this.#tokens) / this.#rule.refillPerSecond) * 1000);
  }
}
