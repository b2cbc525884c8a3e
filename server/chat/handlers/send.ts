/**
 * `send`: a new chat message, stored in the room's log and acked to its
 * author; over the rate limit, a resend of a stored message is still acked.
 */

import { type SendMessage } from "../../../protocol/messages.ts";
import { memberOf } from "../room.ts";
import {
  ackedAgain,
  appendAndAck,
  type ChatContext,
  type Connection,
  joined,
  notMuted,
  spend,
} from "./common.ts";

export function handleSend(
  ctx: ChatContext,
  connection: Connection,
  send: SendMessage,
): void | Promise<void> {
  const { session, room } = joined(connection);
  notMuted(ctx, session, room);
  const bucket = ctx.limitsOf(session).send;
  if (!bucket.take(ctx.now())) {
    return sendOverLimit(ctx, connection, send);
  }
  // A message ends the typing notice on clients; let the next one through.
  session.lastTypingAt = -Infinity;
  appendAndAck(ctx, session, room, bucket, {
    time: ctx.now(),
    from: memberOf(session),
    clientId: send.id,
    text: send.text,
  }, connection.peer);
}

/**
 * Out of send tokens: a resend of a message already stored is still acked
 * (it costs nothing); anything else is refused with the time to wait.
 * Later messages of this connection wait for the look-up, to keep order.
 */
async function sendOverLimit(
  ctx: ChatContext,
  connection: Connection,
  send: SendMessage,
): Promise<void> {
  const { session, room } = joined(connection);
  if (await ackedAgain(connection, session, room, send.id)) return;
  spend(ctx, ctx.limitsOf(session).send, "messages");
}
