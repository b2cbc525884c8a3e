/**
 * `moderate`: a moderator mutes, kicks or lifts either for a member, or locks
 * or unlocks the room. Applied here and on every instance serving the room.
 */

import {
  type Member,
  type ModeratedEvent,
  type ModerateMessage,
  ProtocolError,
} from "../../../protocol/messages.ts";
import { memberOf } from "../room.ts";
import { isLoopback, type ModerationDecision } from "../moderation.ts";
import { type ChatContext, type Connection, joined } from "./common.ts";

/** A moderator's action on a member or on the room. */
export function handleModerate(
  ctx: ChatContext,
  connection: Connection,
  request: ModerateMessage,
): void {
  const { session, room } = joined(connection);
  if (!connection.moderator) {
    throw new ProtocolError(
      "not_allowed",
      "Only moderators can do that; open the moderator link first",
    );
  }
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
  // Applied here at once, then by every instance (this one again,
  // harmlessly) from the room's channel.
  room.moderation.apply(decision);
  room.publish(decision);
  const notice: ModeratedEvent = {
    type: "moderated",
    action: request.action,
    by: memberOf(session),
  };
  if (member) notice.member = member;
  if (request.minutes !== undefined) notice.minutes = request.minutes;
  room.publish(notice);
  ctx.log(
    "warn",
    `moderation: ${session.name} ${request.action}${
      member ? ` ${member.name}` : ""
    }${request.minutes ? ` for ${request.minutes} min` : ""} in ${room.name}`,
  );
}
