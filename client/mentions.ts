/**
 * @mentions: where a message names a member ("@Ana", "@Puma 12"), and
 * whether it names you. Names may hold spaces, so each "@" is matched
 * against the members' names, the longest that fits first; a name must end
 * at a word boundary ("@Ana" does not match inside "@Anabel"). Pure.
 */

export interface Mention {
  /** Index of the "@". */
  start: number;
  /** Index just past the name. */
  end: number;
  name: string;
}

/** Letters, marks and digits continue a word; anything else ends it. */
const WORD_CHAR = /[\p{L}\p{M}\p{Nd}_]/u;

export function findMentions(
  text: string,
  names: readonly string[],
): Mention[] {
  if (!text.includes("@") || names.length === 0) return [];
  // Longest first, so "@Puma 12" wins over a member called "Puma".
  const byLength = [...new Set(names)].sort((a, b) => b.length - a.length);
  const mentions: Mention[] = [];
  for (let at = text.indexOf("@"); at >= 0; at = text.indexOf("@", at + 1)) {
    // "ana@example.org" is an address, not a mention.
    if (at > 0 && WORD_CHAR.test(text[at - 1]!)) continue;
    const rest = text.slice(at + 1).toLocaleLowerCase();
    const name = byLength.find((candidate) =>
      rest.startsWith(candidate.toLocaleLowerCase()) &&
      !WORD_CHAR.test(rest.charAt(candidate.length))
    );
    if (name === undefined) continue;
    mentions.push({ start: at, end: at + 1 + name.length, name });
    at += name.length;
  }
  return mentions;
}

/** Whether `text` mentions `you` (case-insensitive). */
export function mentionsYou(text: string, you: string | undefined): boolean {
  return you !== undefined && findMentions(text, [you]).length > 0;
}

/**
 * What is being typed after an "@" just before the caret ("hola @Pu|" →
 * {start: 5, query: "Pu"}), or null when the caret is not in a mention.
 * Names may hold one space ("@Puma 1"), so the query may too.
 */
export function mentionQuery(
  text: string,
  caret: number,
): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const match =
    /(?:^|[^\p{L}\p{M}\p{Nd}_])@([\p{L}\p{M}\p{Nd}_.-]*(?: [\p{L}\p{M}\p{Nd}_.-]*)?)$/u
      .exec(before);
  if (!match) return null;
  const query = match[1] ?? "";
  return { start: caret - query.length - 1, query };
}

/** Members whose name starts with `query`, at most `limit`, you last. */
export function suggestNames(
  query: string,
  names: readonly string[],
  you: string | undefined,
  limit = 5,
): string[] {
  const q = query.toLocaleLowerCase();
  return [...new Set(names)]
    .filter((name) => name !== you && name.toLocaleLowerCase().startsWith(q))
    .sort((a, b) => a.localeCompare(b))
    .slice(0, limit);
}
