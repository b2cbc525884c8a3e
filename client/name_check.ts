/**
 * Why a name would be refused, said precisely before it is sent: the
 * limit, the character that is not allowed, a line break. The server
 * checks again (protocol/names.ts); this only explains. Pure.
 */

import { countCodePoints, MAX_NAME_CHARS } from "../protocol/messages.ts";

export type NameProblem =
  | { readonly key: "nameEmpty" }
  | { readonly key: "nameTooLong"; readonly n: number }
  | { readonly key: "nameOneLine" }
  | { readonly key: "nameBadChar"; readonly char: string }
  | { readonly key: "nameMarks" };

const ALLOWED_CHAR = /^[\p{L}\p{M}\p{Nd} ._-]$/u;

export function nameProblem(raw: string): NameProblem | null {
  if (/[\r\n\t\u2028\u2029]/.test(raw)) return { key: "nameOneLine" };
  const name = raw.normalize("NFKC").trim().replace(/\s+/gu, " ");
  if (name === "") return { key: "nameEmpty" };
  const length = countCodePoints(name);
  if (length > MAX_NAME_CHARS) return { key: "nameTooLong", n: length };
  for (const char of name) {
    if (!ALLOWED_CHAR.test(char)) {
      // Invisible ones are named by code point, so they can be found.
      const shown = /[\p{L}\p{N}\p{P}\p{S}]/u.test(char)
        ? char
        : `U+${
          char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
        }`;
      return { key: "nameBadChar", char: shown };
    }
  }
  if (/^\p{M}/u.test(name) || /\p{M}{3,}/u.test(name)) {
    return { key: "nameMarks" };
  }
  if (!/[\p{L}\p{Nd}]/u.test(name)) {
    return { key: "nameBadChar", char: name[0]! };
  }
  return null;
}
