/**
 * Room fan-out behind a small interface. Today one process delivers to its
 * own sockets (`LocalFanout`); several instances sharing rooms would add an
 * implementation that publishes through a broker (Redis, NATS) and calls the
 * same subscribers when frames come back.
 */

/** Receives every frame published to a room, already serialised. */
export type FrameSubscriber = (frame: string) => void;

export interface Fanout {
  publish(room: string, frame: string): void;
  /** Returns a function that ends the subscription. */
  subscribe(room: string, subscriber: FrameSubscriber): () => void;
}

export class LocalFanout implements Fanout {
  #subscribers = new Map<string, Set<FrameSubscriber>>();

  publish(room: string, frame: string): void {
    const subscribers = this.#subscribers.get(room);
    if (!subscribers) return;
    for (const subscriber of subscribers) subscriber(frame);
  }

  subscribe(room: string, subscriber: FrameSubscriber): () => void {
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
