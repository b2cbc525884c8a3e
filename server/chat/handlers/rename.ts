/**
 * `rename`: a new name, announced only once the store has it.
 */

import {
  ProtocolError,
  type RenameMessage,
} from "../../../protocol/messages.ts";
import { nameSkeleton, normalizeName } from "../../../protocol/names.ts";
import { STORE_RETRY_MS } from "../../store/store.ts";
import { type ChatContext, type Connection, joined, spend } from "./common.ts";

export function handleRename(
  ctx: ChatContext,
  connection: Connection,
  rename: RenameMessage,
): void | Promise<void> {
  const { session, room } = joined(connection);
  const name = normalizeName(rename.name);
  const taken = () =>
    new ProtocolError("name_taken", `Name "${name}" is taken`);
  const holder = room.holderOf(name);
  if (holder && holder !== session) throw taken();
  const bucket = ctx.limitsOf(session).rename;
  spend(ctx, bucket, "renames");
  // Announced only once stored: a restart must not take the name back.
  const apply = async () => {
    const from = session.name;
    const fromSkeleton = session.skeleton;
    room.rename(session, name);
    try {
      await ctx.store.sessionsDurable();
    } catch (error) {
      ctx.log("warn", `could not store a rename in ${room.name}: ${error}`);
      if (session.name === name) {
        room.rename(session, from);
        // Best effort: at worst the old name stays free for others.
        Promise.resolve(ctx.store.claimName({
          room: room.name,
          userId: session.userId,
          skeleton: fromSkeleton,
          previous: nameSkeleton(name),
        })).catch(() => {});
      }
      bucket.giveBack();
      throw new ProtocolError(
        "store_unavailable",
        "The new name could not be saved right now; try again shortly",
        STORE_RETRY_MS,
      );
    }
    room.publish({ type: "renamed", id: session.userId, from, to: name });
    ctx.log("info", `renamed ${from} to ${name} in ${room.name}`);
  };
  const claimed = ctx.store.claimName({
    room: room.name,
    userId: session.userId,
    skeleton: nameSkeleton(name),
    previous: session.skeleton,
  });
  if (claimed === true) return apply();
  return claimed.then((ok) => {
    if (!ok) {
      bucket.giveBack();
      throw taken();
    }
    return apply();
  });
}
