/**
 * One sharded pub/sub subscription per room per instance, shared by the
 * room's log follower and its fan-out: taken when the first of them starts
 * and dropped with the last. Payloads are told apart by their first
 * character: `c` a committed chat message, `e` another room event.
 */

import type { ChannelListener, RedisLink } from "./link.ts";

export type PayloadListener = (payload: string) => void;

interface Subscription {
  listeners: Set<PayloadListener>;
  /** Resolves once Redis confirmed the subscription (or it failed). */
  ready: Promise<void>;
  listener: ChannelListener;
}

export class RoomChannels {
  readonly prefix: string;
  #link: RedisLink;
  #subscriptions = new Map<string, Subscription>();
  #log: (message: string) => void;

  constructor(link: RedisLink, prefix: string, log: (message: string) => void) {
    this.#link = link;
    this.prefix = prefix;
    this.#log = log;
  }

  /** A key of `room`, hash-tagged so all of a room's keys share a shard. */
  key(room: string, name: string): string {
    return `${this.prefix}{${room}}:${name}`;
  }

  channel(room: string): string {
    return this.key(room, "events");
  }

  /**
   * Listens to the room's channel. `ready` resolves once Redis has confirmed
   * the subscription (what is published from then on is heard).
   */
  listen(
    room: string,
    listener: PayloadListener,
  ): { ready: Promise<void>; stop: () => void } {
    let subscription = this.#subscriptions.get(room);
    if (!subscription) {
      const listeners = new Set<PayloadListener>();
      const channelListener: ChannelListener = (payload) => {
        for (const listen of listeners) listen(payload);
      };
      const ready = this.#link.subscribe(this.channel(room), channelListener)
        .catch((error) => {
          // Redis is away: subscribe again once it is back (the log's
          // catch-up on "ready" fills what was missed meanwhile).
          this.#log(`subscribing to room ${room} failed: ${error}`);
          const stopWaiting = this.#link.onReady(() => {
            stopWaiting();
            if (this.#subscriptions.get(room)?.listener !== channelListener) {
              return;
            }
            this.#link.subscribe(this.channel(room), channelListener).catch(
              (error) =>
                this.#log(`subscribing to room ${room} failed: ${error}`),
            );
          });
        });
      subscription = { listeners, ready, listener: channelListener };
      this.#subscriptions.set(room, subscription);
    }
    const { listeners, ready } = subscription;
    listeners.add(listener);
    return {
      ready,
      stop: () => {
        listeners.delete(listener);
        const current = this.#subscriptions.get(room);
        if (listeners.size > 0 || current?.listeners !== listeners) return;
        this.#subscriptions.delete(room);
        const channelListener = current.listener;
        ready.then(() =>
          this.#link.unsubscribe(this.channel(room), channelListener)
        ).catch((error) => {
          this.#log(`unsubscribing from room ${room} failed: ${error}`);
        });
      },
    };
  }

  publish(room: string, payload: string): Promise<void> {
    return this.#link.publish(this.channel(room), payload);
  }
}
