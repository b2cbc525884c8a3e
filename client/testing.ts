/** Fixtures shared by the client's unit tests (no DOM, no I/O). */

import type {
  ChatMessage,
  Member,
  WelcomeMessage,
} from "../protocol/messages.ts";

/** A plausible welcome to room "main", with `fields` replacing the defaults. */
export function welcomeWith(
  fields: Partial<WelcomeMessage> & Pick<WelcomeMessage, "you">,
): WelcomeMessage {
  return {
    type: "welcome",
    protocol: 2,
    room: "main",
    epoch: "e1",
    resumeToken: "t".repeat(32),
    resumed: false,
    recovered: false,
    history: [],
    members: [fields.you],
    moreHistory: false,
    moreMembers: false,
    typingTimeoutMs: 4000,
    ...fields,
  };
}

/** Message `seq` from `from`, with a text and client id made from its seq. */
export function messageFrom(
  seq: number,
  from: Member,
  clientId = `c${seq}`,
): ChatMessage {
  return { seq, time: 1000 + seq, from, clientId, text: `text ${seq}` };
}
