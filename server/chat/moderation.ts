/**
 * What moderators have decided about one room: who is muted or kicked until
 * when, and whether the room is locked. Pure state with the clock passed in;
 * the hub applies decisions here and asks before each send and join.
 *
 * Kept per room name by the hub (not by `Room`, which is unloaded when it
 * goes quiet), and saved in the store after each decision (`serialize`), so
 * a kick or a lock outlives a restart and reaches an instance that loads
 * the room later. In a cluster every instance serving the room applies the
 * same decisions from the room's event channel.
 */

import {
  EDIT_WINDOW_MS,
  type ModerationAction,
} from "../../protocol/messages.ts";

/** A moderator's decision as instances tell each other (never sent to clients). */
export interface ModerationDecision {
  type: "moderation";
  action: ModerationAction;
  /** The member it is about (mute, kick and their lifting). */
  userId?: string;
  /**
   * A kicked member's address, kept out too: a new connection without a
   * token gets a new user id. Absent for loopback (the machine itself or a
   * proxy not trusted to say who is behind it) so one kick never locks out
   * everyone who comes through it.
   */
  address?: string;
  /** When a mute or kick ends, in milliseconds since the epoch. */
  until?: number;
  /** For `clear`: the room's new epoch (its history starts again). */
  epoch?: string;
}

export class RoomModeration {
  #mutedUntil = new Map<string, number>();
  #kickedUntil = new Map<string, number>();
  #addressKickedUntil = new Map<string, number>();
  /** The address each kick named, so lifting the kick frees it too. */
  #kickedAddress = new Map<string, string>();
  locked = false;

  apply(decision: ModerationDecision): void {
    const { action, userId, address, until = 0 } = decision;
    switch (action) {
      case "lock":
        this.locked = true;
        return;
      case "unlock":
        this.locked = false;
        return;
      case "clear":
        // The room's history, not its people: `Room` starts the epoch.
        return;
      case "mute":
        if (userId !== undefined) this.#mutedUntil.set(userId, until);
        return;
      case "unmute":
        if (userId !== undefined) this.#mutedUntil.delete(userId);
        return;
      case "kick":
        if (userId === undefined) return;
        this.#kickedUntil.set(userId, until);
        if (address !== undefined) {
          this.#addressKickedUntil.set(address, until);
          this.#kickedAddress.set(userId, address);
        }
        return;
      case "unkick": {
        if (userId === undefined) return;
        this.#kickedUntil.delete(userId);
        // The address the kick named goes with it.
        const named = address ?? this.#kickedAddress.get(userId);
        if (named !== undefined) this.#addressKickedUntil.delete(named);
        this.#kickedAddress.delete(userId);
        return;
      }
    }
  }

  /** Milliseconds of mute left for this user (0: may send). */
  mutedFor(userId: string, now: number): number {
    return left(this.#mutedUntil, userId, now);
  }

  /** Milliseconds this user or address is still kept out (0: may join). */
  kickedFor(
    userId: string | undefined,
    address: string | undefined,
    now: number,
  ): number {
    return Math.max(
      userId === undefined ? 0 : left(this.#kickedUntil, userId, now),
      address === undefined ? 0 : left(this.#addressKickedUntil, address, now),
    );
  }

  /** The standing decisions as text for the store, or null when none. */
  serialize(now: number): string | null {
    if (this.isEmpty(now)) return null;
    return JSON.stringify({
      locked: this.locked,
      muted: Object.fromEntries(this.#mutedUntil),
      kicked: Object.fromEntries(this.#kickedUntil),
      addresses: Object.fromEntries(this.#addressKickedUntil),
      kickedAddress: Object.fromEntries(this.#kickedAddress),
    });
  }

  /**
   * Takes back what `serialize` wrote (a stored copy: anything malformed is
   * skipped, not trusted); what has expired meanwhile is dropped on use.
   */
  restore(text: string | null): void {
    if (text === null) return;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof data !== "object" || data === null) return;
    const fields = data as Record<string, unknown>;
    if (fields["locked"] === true) this.locked = true;
    const times = (value: unknown, into: Map<string, number>) => {
      if (typeof value !== "object" || value === null) return;
      for (const [key, until] of Object.entries(value)) {
        if (typeof until === "number") into.set(key, until);
      }
    };
    times(fields["muted"], this.#mutedUntil);
    times(fields["kicked"], this.#kickedUntil);
    times(fields["addresses"], this.#addressKickedUntil);
    const named = fields["kickedAddress"];
    if (typeof named === "object" && named !== null) {
      for (const [userId, address] of Object.entries(named)) {
        if (typeof address === "string") {
          this.#kickedAddress.set(userId, address);
        }
      }
    }
  }

  /** Whether nothing is remembered any more (the hub may forget the room). */
  isEmpty(now: number): boolean {
    for (
      const map of [
        this.#mutedUntil,
        this.#kickedUntil,
        this.#addressKickedUntil,
      ]
    ) {
      for (const [key, until] of map) if (until <= now) map.delete(key);
    }
    for (const userId of this.#kickedAddress.keys()) {
      if (!this.#kickedUntil.has(userId)) this.#kickedAddress.delete(userId);
    }
    return !this.locked && this.#mutedUntil.size === 0 &&
      this.#kickedUntil.size === 0 && this.#addressKickedUntil.size === 0;
  }
}

function left(map: Map<string, number>, key: string, now: number): number {
  const until = map.get(key);
  if (until === undefined) return 0;
  if (until <= now) {
    map.delete(key);
    return 0;
  }
  return until - now;
}

/** Loopback addresses are never kept out by a kick; see `ModerationDecision`. */
export function isLoopback(address: string): boolean {
  return address === "::1" || address.startsWith("127.") ||
    address.startsWith("::ffff:127.");
}

/** Why an edit or delete of message `target` is refused, or null if allowed. */
export type ChangeRefusal = "not_found" | "not_allowed" | "edit_window_passed";

export interface ChangeRequest {
  kind: "edit" | "delete";
  /** The message named, as stored; undefined when not kept. */
  target: { from: { id: string }; time: number; kind?: string } | undefined;
  userId: string;
  moderator: boolean;
  now: number;
}

/**
 * Authors edit their own messages within EDIT_WINDOW_MS and delete them at
 * any time; moderators delete anyone's (and edit nobody's but their own).
 */
export function changeRefusal(request: ChangeRequest): ChangeRefusal | null {
  const { kind, target, userId, moderator, now } = request;
  // Only messages change: an edit or deletion entry is not a target.
  if (!target || target.kind !== undefined) return "not_found";
  const own = target.from.id === userId;
  if (kind === "delete") return own || moderator ? null : "not_allowed";
  if (!own) return "not_allowed";
  return now - target.time > EDIT_WINDOW_MS ? "edit_window_passed" : null;
}
