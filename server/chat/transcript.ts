/**
 * A room's transcript, for a moderator's export: every kept message in seq
 * order, as the room sees it now (edits applied, deletions marked), read
 * from the store a page at a time and written as text for people or JSON
 * for scripts. The formatting is pure; the reading takes a `RoomLog`.
 */

import type { ChatMessage, Member } from "../../protocol/messages.ts";
import type { RoomLog } from "../store/store.ts";

/** Messages read from the store per page. */
const PAGE = 500;

/** A message as the transcript shows it. */
export interface TranscriptEntry {
  seq: number;
  time: number;
  from: Member;
  /** The latest text (an edit's), or "" when deleted. */
  text: string;
  edited?: true;
  deleted?: "author" | "moderator";
}

interface Change {
  text?: string;
  deleted?: "author" | "moderator";
}

/**
 * The room's messages, oldest first, with their changes applied. Two
 * passes over the log: the first remembers only the edits and deletions
 * (a change comes after its message), the second streams the messages.
 */
export async function* transcriptEntries(
  log: RoomLog,
): AsyncGenerator<TranscriptEntry> {
  const changes = new Map<number, Change>();
  for await (const entry of pages(log)) {
    if (entry.kind === undefined || entry.target === undefined) continue;
    const change = changes.get(entry.target) ?? {};
    if (entry.kind === "delete") {
      change.deleted ??= entry.moderator ? "moderator" : "author";
    } else change.text = entry.text;
    changes.set(entry.target, change);
  }
  for await (const message of pages(log)) {
    if (message.kind !== undefined) continue;
    const change = changes.get(message.seq);
    const shown: TranscriptEntry = {
      seq: message.seq,
      time: message.time,
      from: message.from,
      text: change?.deleted ? "" : change?.text ?? message.text,
    };
    if (change?.deleted) shown.deleted = change.deleted;
    else if (change?.text !== undefined) shown.edited = true;
    yield shown;
  }
}

async function* pages(log: RoomLog): AsyncGenerator<ChatMessage> {
  let after = 0;
  while (true) {
    const page = await log.readAfter(after, PAGE);
    yield* page;
    const last = page.at(-1);
    if (!last || page.length < PAGE) return;
    after = last.seq;
  }
}

/** "2026-12-04 09:15:02 UTC" */
function utc(time: number): string {
  return new Date(time).toISOString().replace("T", " ").replace(
    /\.\d+Z$/,
    " UTC",
  );
}

/** One line per message; a multi-line message is indented under its first. */
export function textLine(entry: TranscriptEntry): string {
  const text = entry.deleted === "moderator"
    ? "[message removed by a moderator]"
    : entry.deleted === "author"
    ? "[message deleted]"
    : `${entry.text.replaceAll("\n", "\n    ")}${
      entry.edited ? " (edited)" : ""
    }`;
  return `[${utc(entry.time)}] ${entry.from.name}: ${text}\n`;
}

export function textHeader(room: string, now: number): string {
  return `# Room "${room}", exported ${utc(now)}\n`;
}

/** The JSON document opens with the room, then one message per line. */
export function jsonHeader(room: string, now: number): string {
  return `{"room":${JSON.stringify(room)},"exportedAt":${
    JSON.stringify(new Date(now).toISOString())
  },"messages":[\n`;
}

export function jsonLine(entry: TranscriptEntry, first: boolean): string {
  return `${first ? "" : ",\n"}${JSON.stringify(entry)}`;
}

export const JSON_FOOTER = "\n]}\n";
