/**
 * Counts open WebSocket connections per client address and in total, so the
 * HTTP edge can refuse (429) before upgrading. Pure bookkeeping, no I/O.
 */

export interface ConnectionLimitOptions {
  /** Open connections allowed from one address. */
  perAddress: number;
  /** Open connections allowed in all. */
  total: number;
}

export type Admission =
  | { ok: true; release: () => void }
  | { ok: false; reason: "address" | "total" };

export class ConnectionLimits {
  #options: ConnectionLimitOptions;
  #byAddress = new Map<string, number>();
  #total = 0;

  constructor(options: ConnectionLimitOptions) {
    this.#options = options;
  }

  get total(): number {
    return this.#total;
  }

  /** Reserves a slot for `address`; `release` is safe to call twice. */
  admit(address: string): Admission {
    if (this.#total >= this.#options.total) {
      return { ok: false, reason: "total" };
    }
    const count = this.#byAddress.get(address) ?? 0;
    if (count >= this.#options.perAddress) {
      return { ok: false, reason: "address" };
    }
    this.#byAddress.set(address, count + 1);
    this.#total++;
    let released = false;
    return {
      ok: true,
      release: () => {
        if (released) return;
        released = true;
        this.#total--;
        const left = (this.#byAddress.get(address) ?? 1) - 1;
        if (left <= 0) this.#byAddress.delete(address);
        else this.#byAddress.set(address, left);
      },
    };
  }
}
