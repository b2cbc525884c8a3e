/**
 * Display-name rules, shared by the server (which enforces them) and the
 * client (which can warn before sending). Pure functions, no I/O.
 */

import {
  countCodePoints,
  MAX_NAME_CHARS,
  MIN_NAME_CHARS,
  ProtocolError,
} from "./messages.ts";

/** Names nobody may take, in English and Spanish; compared by skeleton. */
const RESERVED_NAMES = [
  "system",
  "server",
  "admin",
  "administrator",
  "moderator",
  "mod",
  "root",
  "sistema",
  "servidor",
  "administrador",
  "administradora",
  "moderador",
  "moderadora",
];

/**
 * Allowed characters: letters, combining marks (for scripts that need them),
 * digits, space, dot, underscore and hyphen. Everything else — controls,
 * format characters (zero-width, bidi overrides), symbols — is refused.
 */
const ALLOWED = /^[\p{L}\p{M}\p{Nd} ._-]+$/u;
/** More than two marks on one letter is a "zalgo" flood, not a language. */
const MARK_FLOOD = /\p{M}{3,}/u;
/** Leading marks would attach to whatever the UI shows before the name. */
const LEADING_MARK = /^\p{M}/u;

/**
 * Normalises a requested name (NFKC, trimmed, inner whitespace collapsed)
 * and checks it against the rules. Returns the name to store; throws a
 * `ProtocolError` with a stable code explaining the refusal. Uniqueness is
 * the room's job: see `nameSkeleton`.
 */
export function normalizeName(raw: string): string {
  const name = raw.normalize("NFKC").trim().replace(/\s+/gu, " ");
  const chars = countCodePoints(name);
  if (chars < MIN_NAME_CHARS) {
    throw new ProtocolError("name_empty", "Name is empty");
  }
  if (chars > MAX_NAME_CHARS) {
    throw new ProtocolError(
      "name_too_long",
      `Name has ${chars} characters; the limit is ${MAX_NAME_CHARS}`,
    );
  }
  // \s+ above folded tabs and newlines into spaces; test the raw text too so
  // a newline is refused rather than silently rewritten.
  if (
    /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u.test(raw) || !ALLOWED.test(name) ||
    MARK_FLOOD.test(name) || LEADING_MARK.test(name)
  ) {
    throw new ProtocolError(
      "name_invalid",
      `Name "${name}" may only contain letters, digits, spaces and . _ -`,
    );
  }
  if (!/[\p{L}\p{Nd}]/u.test(name)) {
    throw new ProtocolError(
      "name_invalid",
      `Name "${name}" needs at least one letter or digit`,
    );
  }
  if (RESERVED_SKELETONS.has(nameSkeleton(name))) {
    throw new ProtocolError("name_reserved", `Name "${name}" is reserved`);
  }
  return name;
}

/**
 * Characters that look like Latin letters in common fonts, mapped to the
 * letter they imitate. Covers Cyrillic, Greek and a few digits; enough to
 * stop "Аna" (Cyrillic А) impersonating "Ana".
 */
const CONFUSABLES: Record<string, string> = {
  "а": "a",
  "в": "b",
  "е": "e",
  "ё": "e",
  "к": "k",
  "м": "m",
  "н": "h",
  "о": "o",
  "р": "p",
  "с": "c",
  "т": "t",
  "у": "y",
  "х": "x",
  "ѕ": "s",
  "і": "l",
  "ї": "l",
  "ј": "j",
  "һ": "h",
  "ԁ": "d",
  "ԛ": "q",
  "ԝ": "w",
  "ɡ": "g",
  "α": "a",
  "β": "b",
  "ε": "e",
  "η": "n",
  "ι": "l",
  "κ": "k",
  "ν": "v",
  "ο": "o",
  "ρ": "p",
  "τ": "t",
  "υ": "u",
  "χ": "x",
  "γ": "y",
  "ϲ": "c",
  "0": "o",
  "1": "l",
  // Latin i and l look alike in many fonts; every i-like letter folds to l.
  "i": "l",
  "|": "l",
  "5": "s",
  "_": "-",
  ".": "-",
};

/**
 * A name's identity for uniqueness: case-folded, accents removed, look-alike
 * characters mapped to one representative, separators folded. Two names with
 * the same skeleton would be mistaken for each other, so only one may exist
 * in a room. ("I" and "l" both fold to "l" because many fonts draw them alike.)
 */
export function nameSkeleton(name: string): string {
  const stripped = name.normalize("NFKD").replace(/\p{M}/gu, "");
  let skeleton = "";
  for (const char of stripped) {
    // Capitals first: Greek "Η" imitates "H", while its lower case "η"
    // imitates "n", so lower-casing first would lose the likeness.
    const folded = UPPER_CONFUSABLES[char] ?? char.toLowerCase();
    skeleton += CONFUSABLES[folded] ?? folded;
  }
  // Separators at the ends or repeated do not make a name different.
  return skeleton.replace(/[\s-]+/gu, "-").replace(/^-+|-+$/g, "");
}

/** Capital letters that imitate a Latin capital, mapped to its lower case. */
const UPPER_CONFUSABLES: Record<string, string> = {
  "Α": "a",
  "Β": "b",
  "Ε": "e",
  "Ζ": "z",
  "Η": "h",
  "Ι": "l",
  "Κ": "k",
  "Μ": "m",
  "Ν": "n",
  "Ο": "o",
  "Ρ": "p",
  "Τ": "t",
  "Υ": "y",
  "Χ": "x",
  "А": "a",
  "В": "b",
  "Е": "e",
  "З": "3",
  "І": "l",
  "Ј": "j",
  "К": "k",
  "М": "m",
  "Н": "h",
  "О": "o",
  "Р": "p",
  "С": "c",
  "Ѕ": "s",
  "Т": "t",
  "Х": "x",
  "У": "y",
};

const RESERVED_SKELETONS = new Set(RESERVED_NAMES.map(nameSkeleton));
