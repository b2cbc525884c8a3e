/**
 * Display-name rules, shared by the server (which enforces them) and the
 * client (which can warn before sending). Pure functions, no I/O.
 */

import { CONFUSABLES_DATA } from "./confusables_data.ts";
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
    throw new ProtocolError("name_invalid", invalidReason(raw, name));
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
 * Says which rule a name broke, about the name as sent (a tab or a newline
 * would not survive normalising), and names an invisible character by its
 * code point.
 */
function invalidReason(raw: string, name: string): string {
  if (/[\r\n\t\u2028\u2029]/.test(raw)) {
    return "A name must be one line: no tabs or line breaks";
  }
  for (const char of raw.trim()) {
    if (!/^[\p{L}\p{M}\p{Nd} ._-]$/u.test(char)) {
      const code = `U+${
        char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")
      }`;
      const shown = /[\p{L}\p{N}\p{P}\p{S}]/u.test(char)
        ? `"${char}" (${code})`
        : code;
      return `${shown} is not allowed in a name: letters, digits, spaces and . _ - only`;
    }
  }
  if (LEADING_MARK.test(name)) {
    return "A name cannot start with an accent or mark";
  }
  return "At most two accents or marks on one letter";
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
 * Unicode's confusables (UTS #39): each character that can be mistaken for
 * another, mapped to its prototype, e.g. Cherokee "Ꭺ", Lisu "ꓮ" → "A",
 * Armenian "օ" → "o", dotless "ı" → "i". Parsed once, at first use.
 */
let prototypes: Map<string, string> | undefined;

function prototypeOf(char: string): string {
  if (!prototypes) {
    prototypes = new Map();
    for (const line of CONFUSABLES_DATA.split("\n")) {
      const tab = line.indexOf("\t");
      prototypes.set(line.slice(0, tab), line.slice(tab + 1));
    }
  }
  return prototypes.get(char) ?? char;
}

/**
 * Small capitals, which Unicode's table leaves out (they are letters of
 * their own) but which read as the capital in a name: "ᴀᴅᴍɪɴ" is "admin".
 */
const SMALL_CAPITALS: Record<string, string> = {
  "ᴀ": "a",
  "ʙ": "b",
  "ᴄ": "c",
  "ᴅ": "d",
  "ᴇ": "e",
  "ꜰ": "f",
  "ɢ": "g",
  "ʜ": "h",
  "ɪ": "i",
  "ᴊ": "j",
  "ᴋ": "k",
  "ʟ": "l",
  "ᴍ": "m",
  "ɴ": "n",
  "ᴏ": "o",
  "ᴘ": "p",
  "ꞯ": "q",
  "ʀ": "r",
  "ꜱ": "s",
  "ᴛ": "t",
  "ᴜ": "u",
  "ᴠ": "v",
  "ᴡ": "w",
  "ʏ": "y",
  "ᴢ": "z",
};

/**
 * A name's identity for uniqueness: accents removed, every character mapped
 * to its prototype in Unicode's confusables, case-folded, then this chat's
 * own folds (digits and letters that pass for each other in many fonts,
 * separators). Two names with the same skeleton would be mistaken for each
 * other, so only one may exist in a room. ("I" and "l" both fold to "l"
 * because many fonts draw them alike.)
 */
export function nameSkeleton(name: string): string {
  const stripped = name.normalize("NFKD").replace(/\p{M}/gu, "");
  let skeleton = "";
  for (const char of stripped) skeleton += fold(char, 0);
  // Prototypes may carry marks ("Ꮎ" is "O" with a stroke); separators at
  // the ends or repeated do not make a name different.
  return skeleton.normalize("NFD").replace(/\p{M}/gu, "")
    .replace(/[\s-]+/gu, "-").replace(/^-+|-+$/g, "");
}

/**
 * One character's part of the skeleton. This chat's own folds come first
 * (capitals before lower-casing: Greek "Η" imitates "H" while "η"
 * imitates "n"); then Unicode's prototype of the character as written,
 * then of its lower case ("M" → "m" → "rn", as "m" may be read "rn"), each
 * folded again, a few levels deep at most.
 */
function fold(char: string, depth: number): string {
  const small = SMALL_CAPITALS[char];
  if (small) return fold(small, depth + 1);
  const upper = UPPER_CONFUSABLES[char];
  if (upper) return depth >= 3 ? upper : fold(upper, depth + 1);
  const lower = char.toLowerCase();
  const own = CONFUSABLES[lower];
  if (own) return own;
  if (depth >= 3) return lower;
  let prototype = prototypeOf(char);
  if (prototype === char) prototype = prototypeOf(lower);
  if (prototype === char || prototype === lower) return lower;
  let folded = "";
  for (const part of prototype) folded += fold(part, depth + 1);
  return folded;
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
