/**
 * `typing`: tells the room, at most every few seconds per person.
 */

import { memberOf } from "../room.ts";
import { type ChatContext, type Connection, joined } from "./common.ts";

export function handleTyping(ctx: ChatContext, connection: Connection): void {
  const { session, room } = joined(connection);
  const now = ctx.now();
  if (now - session.lastTypingAt < ctx.typingThrottleMs) return;
  session.lastTypingAt = now;
  room.publish({ type: "typing", member: memberOf(session) });
}
