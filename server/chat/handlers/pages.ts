/**
 * `older` and `members`: a page of the history before a seq, or of the
 * member list after a cursor, for someone scrolling back.
 */

import {
  MEMBERS_PER_PAGE,
  type MembersRequest,
  OLDER_PER_PAGE,
  type OlderRequest,
  type ServerMessage,
} from "../../../protocol/messages.ts";
import { type ChatContext, type Connection, joined, spend } from "./common.ts";

/** Older messages, for someone scrolling back through the history. */
export async function handleOlder(
  ctx: ChatContext,
  connection: Connection,
  request: OlderRequest,
): Promise<void> {
  const { session, room } = joined(connection);
  spend(ctx, ctx.limitsOf(session).olderPages, "history pages");
  room.hold();
  try {
    const page = await room.log.readBefore(request.before, OLDER_PER_PAGE);
    connection.peer.send(JSON.stringify(
      {
        type: "older",
        epoch: page.epoch,
        before: request.before,
        messages: page.messages,
        start: page.start,
      } satisfies ServerMessage,
    ));
  } finally {
    room.release();
  }
}

/** A page of the member list, for someone scrolling through it. */
export function handleMembers(
  ctx: ChatContext,
  connection: Connection,
  request: MembersRequest,
): void {
  const { session, room } = joined(connection);
  spend(ctx, ctx.limitsOf(session).memberPages, "member list pages");
  const page = room.listedPage(request.after, MEMBERS_PER_PAGE);
  connection.peer.send(JSON.stringify(
    {
      type: "members",
      members: page.members,
      more: page.more,
      next: page.next,
    } satisfies ServerMessage,
  ));
}
