/**
 * Room events other than chat messages (those come from the store's log),
 * shared by every instance serving the room. One process delivers to itself
 * (`LocalFanout`); a cluster publishes through Redis and calls the same
 * subscribers when events come back, from any instance.
 */

import type {
  JoinedEvent,
  LeftEvent,
  ModeratedEvent,
  RenamedEvent,
  TypingEvent,
} from "../../protocol/messages.ts";
import type { ModerationDecision } from "../chat/moderation.ts";

/**
 * A session's state as the instance that changed it tells the others, so
 * every instance serving the room lists the same members, keeps their
 * names reserved and can resume any of them. Never sent to clients.
 */
export interface SessionSync {
  type: "session";
  /** The instance that sent it (which ignores its own). */
  instance: string;
  userId: string;
  /** Null: the session is gone (expired), its name free. */
  state: {
    name: string;
    tokenHash: string;
    previousTokenHash: string | null;
    expiresAt: number;
    present: boolean;
    /** Connected to `instance` right now. */
    connected: boolean;
  } | null;
}

/** What one instance tells the others about a room. */
export type RoomEvent =
  | JoinedEvent
  | LeftEvent
  | RenamedEvent
  | TypingEvent
  | ModeratedEvent
  | ModerationDecision
  | SessionSync;

export type EventSubscriber = (event: RoomEvent) => void;

export interface Fanout {
  publish(room: string, event: RoomEvent): void;
  /** Returns a function that ends the subscription. */
  subscribe(room: string, subscriber: EventSubscriber): () => void;
}

/** One process: events go straight to this process's subscribers. */
export class LocalFanout implements Fanout {
  #subscribers = new Map<string, Set<EventSubscriber>>();

  publish(room: string, event: RoomEvent): void {
    const subscribers = this.#subscribers.get(room);
    if (!subscribers) return;
    for (const subscriber of subscribers) subscriber(event);
  }

  subscribe(room: string, subscriber: EventSubscriber): () => void {
    let subscribers = this.#subscribers.get(room);
    if (!subscribers) {
      subscribers = new Set();
      this.#subscribers.set(room, subscribers);
    }
    subscribers.add(subscriber);
    return () => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.#subscribers.delete(room);
    };
  }
}
