/**
 * `moderate`: a moderator mutes, kicks or lifts either for a member, locks
 * or unlocks the room, or clears its history. Applied here and on every
 * instance serving the room; the room is told with a `moderated` notice.
 */

import {
  type Member,
  type ModeratedEvent,
  type ModerateMessage,
  ProtocolError,
} from "../../../protocol/messages.ts";
import { memberOf, type Room, type Session } from "../room.ts";
import { isLoopback, type ModerationDecision } from "../moderation.ts";
import { type ChatContext, type Connection, joined } from "./common.ts";

/** A moderator's action on a member or on the room. */
export function handleModerate(
  ctx: ChatContext,
  connection: Connection,
  request: ModerateMessage,
): void | Promise<void> {
  const { session, room } = joined(connection);
  if (!connection.moderator) {
    throw new ProtocolError(
      "not_allowed",
      "Only moderators can do that; open the moderator link first",
    );
  }
  if (request.action === "clear") return clearHistory(ctx, session, room);
  const now = ctx.now();
  const decision: ModerationDecision = {
    type: "moderation",
    action: request.action,
  };
  let member: Member | undefined;
  if (request.user !== undefined) {
    if (request.user === session.userId) {
      throw new ProtocolError(
        "not_allowed",
        "Moderators cannot do that to themselves",
      );
    }
    const target = room.sessionOf(request.user);
    if (!target && (request.action === "mute" || request.action === "kick")) {
      throw new ProtocolError("not_found", "That person is not in this room");
    }
    member = target ? memberOf(target) : undefined;
    decision.userId = request.user;
    const address = target?.peer?.address;
    if (
      request.action === "kick" && address !== undefined &&
      !isLoopback(address)
    ) {
      decision.address = address;
    }
  }
  if (request.minutes !== undefined) {
    decision.until = now + request.minutes * 60_000;
  }
  const notice: ModeratedEvent = {
    type: "moderated",
    action: request.action,
    by: memberOf(session),
  };
  if (member) notice.member = member;
  if (request.minutes !== undefined) notice.minutes = request.minutes;
  room.publish(notice);
  // Applied here at once, then by every instance (this one again,
  // harmlessly) from the room's channel.
  room.moderation.apply(decision);
  room.publish(decision);
  // Kept by the store: a restart (or an instance loading the room later)
  // starts from it.
  ctx.store.saveModeration(room.name, room.moderation.serialize(now));
  ctx.log(
    "warn",
    `moderation: ${session.name} ${request.action}${
      member ? ` ${member.name}` : ""
    }${request.minutes ? ` for ${request.minutes} min` : ""} in ${room.name}`,
  );
}

/**
 * Empties the room's log into a new epoch. The room hears the notice
 * first; then every instance sends its live clients to resume, and they
 * come back to the new, empty history (their unsent messages go there).
 */
async function clearHistory(
  ctx: ChatContext,
  session: Session,
  room: Room,
): Promise<void> {
  room.hold();
  try {
    const epoch = await room.log.clear();
    room.publish({ type: "moderated", action: "clear", by: memberOf(session) });
    room.publish({ type: "moderation", action: "clear", epoch });
    ctx.log("warn", `moderation: ${session.name} cleared ${room.name}`);
  } finally {
    room.release();
  }
}
