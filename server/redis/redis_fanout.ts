/**
 * Room events (joins, leaves, renames, typing) shared by every instance
 * through the room's sharded pub/sub channel, the same one that carries its
 * committed messages, so one room costs each instance one subscription and
 * events keep the order Redis ran them in.
 */

import type { EventSubscriber, Fanout, RoomEvent } from "../fanout/fanout.ts";
import type { RoomChannels } from "./room_channels.ts";

const EVENT_TYPES: ReadonlySet<string> = new Set<RoomEvent["type"]>([
  "joined",
  "left",
  "renamed",
  "typing",
  "moderated",
  "moderation",
  "session",
]);

/** Our own payloads, but checked: a bad one is dropped, not delivered. */
function parseEvent(payload: string): RoomEvent | null {
  try {
    const event: unknown = JSON.parse(payload.slice(1));
    if (
      typeof event === "object" && event !== null && "type" in event &&
      typeof event.type === "string" && EVENT_TYPES.has(event.type)
    ) {
      return event as RoomEvent;
    }
  } catch {
    // Dropped below.
  }
  return null;
}

export class RedisFanout implements Fanout {
  #channels: RoomChannels;
  #log: (message: string) => void;

  constructor(channels: RoomChannels, log: (message: string) => void) {
    this.#channels = channels;
    this.#log = log;
  }

  publish(room: string, event: RoomEvent): void {
    this.#channels.publish(room, `e${JSON.stringify(event)}`).catch(
      (error) => {
        // Ephemeral: a notice lost while Redis is away is not resent.
        this.#log(`could not publish ${event.type} in ${room}: ${error}`);
      },
    );
  }

  subscribe(room: string, subscriber: EventSubscriber): () => void {
    const { stop } = this.#channels.listen(room, (payload) => {
      if (!payload.startsWith("e")) return;
      const event = parseEvent(payload);
      if (event) subscriber(event);
    });
    return stop;
  }
}
