/**
 * `edit` and `delete`: a change of an earlier message, stored as an entry of
 * the room's log with its own seq.
 */

import {
  type DeleteMessage,
  EDIT_WINDOW_MS,
  type EditMessage,
  ProtocolError,
} from "../../../protocol/messages.ts";
import { type MessageDraft } from "../../store/store.ts";
import { memberOf } from "../room.ts";
import { changeRefusal } from "../moderation.ts";
import {
  ackedAgain,
  appendAndAck,
  type ChatContext,
  type Connection,
  joined,
  notMuted,
  spend,
} from "./common.ts";

/**
 * An edit or deletion of message `target`: checked against the stored
 * message, then appended to the log as an entry of its own, acked like a
 * send, and delivered to the room (and to every later reader) in order.
 */
export async function handleChange(
  ctx: ChatContext,
  connection: Connection,
  request: EditMessage | DeleteMessage,
): Promise<void> {
  const { session, room } = joined(connection);
  if (request.type === "edit") notMuted(ctx, session, room);
  room.hold();
  try {
    // Even if the edit window has passed meanwhile.
    if (await ackedAgain(connection, session, room, request.id)) return;
    const bucket = ctx.limitsOf(session).send;
    spend(ctx, bucket, "messages");
    const page = await room.log.readBefore(request.target + 1, 1);
    const target = page.messages.find((m) => m.seq === request.target);
    const own = target?.from.id === session.userId;
    const refusal = changeRefusal({
      kind: request.type,
      target,
      userId: session.userId,
      moderator: connection.moderator,
      now: ctx.now(),
    });
    if (refusal) {
      bucket.giveBack();
      throw new ProtocolError(
        refusal,
        refusal === "not_found"
          ? `There is no message ${request.target} to change`
          : refusal === "edit_window_passed"
          ? `Messages can be edited for ${
            EDIT_WINDOW_MS / 60_000
          } minutes after sending`
          : "Only the author (or a moderator, to delete) may change this message",
      );
    }
    const draft: MessageDraft = {
      time: ctx.now(),
      from: memberOf(session),
      clientId: request.id,
      text: request.type === "edit" ? request.text : "",
      kind: request.type,
      target: request.target,
    };
    if (request.type === "delete" && !own) {
      draft.moderator = true;
      ctx.log(
        "warn",
        `moderation: ${session.name} deleted message ${request.target} of ${target?.from.name} in ${room.name}`,
      );
    }
    appendAndAck(ctx, session, room, bucket, draft, connection.peer);
  } finally {
    room.release();
  }
}
