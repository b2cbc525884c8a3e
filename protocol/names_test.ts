/**
 * Unit tests for the display-name rules: normalisation, length, allowed
 * characters, reserved names and look-alike skeletons.
 */

import assert from "node:assert/strict";
import { type ErrorCode, MAX_NAME_CHARS, ProtocolError } from "./messages.ts";
import { nameSkeleton, normalizeName } from "./names.ts";

/** Asserts that `raw` is refused with exactly `code`. */
function assertRefused(raw: string, code: ErrorCode): void {
  assert.throws(
    () => normalizeName(raw),
    (error: unknown) => {
      assert.ok(
        error instanceof ProtocolError,
        `expected a ProtocolError for ${JSON.stringify(raw)}, got ${error}`,
      );
      assert.equal(error.code, code, `code for ${JSON.stringify(raw)}`);
      return true;
    },
    `expected ${JSON.stringify(raw)} to be refused with ${code}`,
  );
}

Deno.test("normalizeName trims and collapses inner whitespace to one space", () => {
  assert.equal(normalizeName("  Ana   María  "), "Ana María");
  assert.equal(normalizeName("Ana\u00A0María"), "Ana María");
  assert.equal(normalizeName("Ana\u3000\u3000María"), "Ana María");
  assert.equal(normalizeName("Ana"), "Ana");
});

Deno.test("normalizeName applies NFKC so decomposed and full-width forms become plain", () => {
  const composed = normalizeName("Jose\u0301");
  assert.equal(composed, "José");
  assert.equal(composed.length, 4, "e + combining acute is composed into é");
  assert.equal(normalizeName("Ｌｕｃíａ"), "Lucía");
  assert.equal(normalizeName("\uFB01na"), "fina", "the ﬁ ligature is expanded");
  assert.equal(normalizeName("Ana\u00B2"), "Ana2", "superscript two is a 2");
});

Deno.test("normalizeName accepts Spanish letters, digits, space, dot, underscore and hyphen", () => {
  for (
    const name of [
      "Ñandú",
      "Begoña Ibáñez",
      "Pingüino",
      "ágata",
      "Ana_María-2.0",
      "x.y_z-1",
      "007",
      "नमस्ते",
      "大熊猫",
    ]
  ) {
    assert.equal(normalizeName(name), name);
  }
});

Deno.test("normalizeName accepts names of 1 to 32 code points", () => {
  assert.equal(normalizeName("a"), "a");
  assert.equal(normalizeName("ñ".repeat(MAX_NAME_CHARS)), "ñ".repeat(32));
  // U+20000 is a letter outside the BMP: 32 of them are 64 UTF-16 units.
  const astral = "\u{20000}".repeat(MAX_NAME_CHARS);
  assert.equal(astral.length, 64);
  assert.equal(normalizeName(astral), astral);
});

Deno.test("normalizeName measures length after normalisation", () => {
  // 64 code points in, 32 composed ñ out.
  assert.equal(normalizeName("n\u0303".repeat(32)), "ñ".repeat(32));
  assert.equal(normalizeName(` ${"a".repeat(32)}   `), "a".repeat(32));
});

Deno.test("normalizeName refuses a name over 32 code points as name_too_long", () => {
  assertRefused("a".repeat(33), "name_too_long");
  assertRefused("ñ".repeat(33), "name_too_long");
  assertRefused("\u{20000}".repeat(33), "name_too_long");
  assertRefused(`${"a".repeat(20)} ${"b".repeat(12)}`, "name_too_long");
});

Deno.test("normalizeName counts an emoji as one code point when measuring length", () => {
  // 32 emoji are within the length limit, so the refusal is about the
  // characters; 33 are over it.
  assertRefused("😀".repeat(32), "name_invalid");
  assertRefused("😀".repeat(33), "name_too_long");
});

Deno.test("normalizeName refuses empty and whitespace-only names as name_empty", () => {
  assertRefused("", "name_empty");
  assertRefused("   ", "name_empty");
  assertRefused("\u00A0\u3000", "name_empty");
});

Deno.test("normalizeName refuses control characters", () => {
  for (
    const raw of [
      "Ana\u0000",
      "Ana\u0007Bea",
      "\u001B[31mAna",
      "Ana\u007F",
      "Ana\u0085Bea",
      "Ana\u009F",
    ]
  ) {
    assertRefused(raw, "name_invalid");
  }
});

Deno.test("normalizeName refuses newlines and tabs instead of folding them into spaces", () => {
  for (
    const raw of [
      "Ana\nMaría",
      "Ana\r\nMaría",
      "Ana\rMaría",
      "Ana\tMaría",
      "Ana\n",
      "\tAna",
      "Ana\u2028María",
      "Ana\u2029María",
    ]
  ) {
    assertRefused(raw, "name_invalid");
  }
});

Deno.test("normalizeName refuses zero-width characters", () => {
  for (
    const raw of [
      "A\u200Bna",
      "A\u200Dna",
      "A\uFEFFna",
      "\uFEFFAna",
      "Ana\uFEFF",
      "Ana\u200C",
      "A\u2060na",
      "A\u00ADna",
      "\u200B",
    ]
  ) {
    assertRefused(raw, "name_invalid");
  }
});

Deno.test("normalizeName refuses bidi overrides, isolates and marks", () => {
  for (
    const raw of [
      "\u202EAna",
      "Ana\u202Egnp.exe",
      "\u202DAna",
      "\u2066Ana\u2069",
      "\u2067Ana\u2069",
      "\u2068Ana\u2069",
      "\u200FAna",
      "Ana\u061C",
    ]
  ) {
    assertRefused(raw, "name_invalid");
  }
});

Deno.test("normalizeName refuses a combining-mark flood (zalgo) but allows up to two marks", () => {
  assertRefused("Z\u0351\u0352\u0353algo", "name_invalid");
  assertRefused("Ana\u0336\u0337\u0338\u0339", "name_invalid");
  assertRefused("H\u0335\u0321\u0327\u0316ola", "name_invalid");
  // A flood long enough to pass the length limit is refused for length first.
  assertRefused(`Ana${"\u030D".repeat(50)}`, "name_too_long");
  // Two marks that do not compose are still a plausible spelling.
  assert.equal(normalizeName("Ana\u0336\u0337"), "Ana\u0336\u0337");
});

Deno.test("normalizeName refuses a name that starts with a combining mark", () => {
  assertRefused("\u0301Ana", "name_invalid");
  assertRefused(" \u0301Ana", "name_invalid");
  assertRefused("\u0336", "name_invalid");
});

Deno.test("normalizeName refuses symbols, punctuation, emoji and HTML", () => {
  for (
    const raw of [
      "<img src=x>",
      "<script>alert(1)</script>",
      "Ana&Bea",
      "Ana😀",
      "👩‍💻",
      "¡Hola!",
      "¿Ana?",
      "a@b",
      "€uro",
      "50%",
      "Ana's",
      'Ana "B"',
      "a/b",
      "a\\b",
      "Ana|Bea",
      "½",
    ]
  ) {
    assertRefused(raw, "name_invalid");
  }
});

Deno.test("normalizeName refuses reserved English and Spanish names in any case", () => {
  for (
    const raw of [
      "admin",
      "ADMIN",
      "Admin",
      "aDmIn",
      "Administrator",
      "System",
      "SERVER",
      "Root",
      "mod",
      "Moderator",
      "sistema",
      "Sistema",
      "SERVIDOR",
      "Administrador",
      "administradora",
      "Moderador",
      "moderadora",
      "MODERADORA",
      "  admin  ",
    ]
  ) {
    assertRefused(raw, "name_reserved");
  }
});

Deno.test("normalizeName refuses look-alikes of reserved names", () => {
  for (
    const raw of [
      "\u0391dmin", // Greek capital Alpha
      "\u0410dmin", // Cyrillic capital A
      "ADM1N",
      "admln",
      "r00t",
      "Sístema",
      "Móderadora",
      "ＡＤＭＩＮ",
      "S\u0443stem", // Cyrillic у
      "m\u043Ed", // Cyrillic о
    ]
  ) {
    assertRefused(raw, "name_reserved");
  }
});

Deno.test("normalizeName refuses a reserved name spelled with Cyrillic or Greek i", () => {
  // Latin i folds to l, so the Cyrillic і and Greek ι must fold there too.
  assertRefused("adm\u0456n", "name_reserved"); // Cyrillic і
  assertRefused("adm\u03B9n", "name_reserved"); // Greek ι
});

Deno.test("normalizeName accepts names that merely contain a reserved word", () => {
  for (const name of ["Admin Ana", "Sistemas", "Modesto", "Rooty", "Servida"]) {
    assert.equal(normalizeName(name), name);
  }
});

Deno.test("nameSkeleton makes look-alike names equal", () => {
  const pairs: [string, string][] = [
    ["\u0410na", "Ana"], // Cyrillic А
    ["\u0391na", "Ana"], // Greek Α
    ["ANA", "ana"],
    ["José", "Jose"],
    ["Jose\u0301", "José"],
    ["l", "I"],
    ["l", "1"],
    ["Ana María", "ana_maria"],
    ["Ana.María", "Ana-María"],
    ["Ana - María", "Ana María"],
    ["B0B", "bob"],
    ["\u0440\u0430\u0441\u043E", "paco"], // all Cyrillic
  ];
  for (const [a, b] of pairs) {
    assert.equal(nameSkeleton(a), nameSkeleton(b), `${a} vs ${b}`);
  }
});

Deno.test("nameSkeleton folds Cyrillic and Greek i like Latin i", () => {
  assert.equal(nameSkeleton("\u0399van"), nameSkeleton("Ivan")); // Greek Ι
  assert.equal(nameSkeleton("\u0406van"), nameSkeleton("Ivan")); // Cyrillic І
  assert.equal(nameSkeleton("L\u0456a"), nameSkeleton("Lia")); // Cyrillic і
});

Deno.test("nameSkeleton keeps genuinely different names apart", () => {
  const pairs: [string, string][] = [
    ["Ana", "Ane"],
    ["Ana", "Anna"],
    ["Ana María", "AnaMaría"],
    ["Luis", "Luisa"],
    ["Ana1", "Ana2"],
    ["Pedro", "Petro"],
    ["m", "n"],
    ["Panda 42", "Panda 43"],
    ["Sara", "Zara"],
  ];
  for (const [a, b] of pairs) {
    assert.notEqual(nameSkeleton(a), nameSkeleton(b), `${a} vs ${b}`);
  }
});

Deno.test("Unicode's confusables catch look-alikes beyond Cyrillic and Greek", () => {
  const pairs: [string, string][] = [
    ["Ꭺna", "Ana"], // Cherokee A
    ["ꓮna", "Ana"], // Lisu A
    ["ɑna", "ana"], // Latin alpha
    ["ᴀᴅᴍɪɴ", "admin"], // small capitals
    ["Pılar", "Pilar"], // dotless i
    ["Sօfia", "Sofia"], // Armenian o
    ["ᎷᎪᏒᎥᎾ", "Mario"], // Cherokee, all of it
    ["Mario", "rnario"], // m may be read rn
  ];
  for (const [lookAlike, original] of pairs) {
    assert.equal(
      nameSkeleton(lookAlike),
      nameSkeleton(original),
      `${lookAlike} vs ${original}`,
    );
  }
  // Different names stay different.
  for (
    const [a, b] of [["Ana", "Ada"], ["Mario", "Maria"], [
      "Bea",
      "Ben",
    ]] as const
  ) {
    assert.notEqual(nameSkeleton(a), nameSkeleton(b), `${a} vs ${b}`);
  }
});

Deno.test("a look-alike of a reserved name in another script is refused", () => {
  for (const name of ["ᴀᴅᴍɪɴ", "ΑDΜΙΝ", "Ꭺdmin", "ѕуѕtеm"]) {
    assert.throws(
      () => normalizeName(name),
      (error: unknown) =>
        error instanceof ProtocolError && error.code === "name_reserved",
      name,
    );
  }
});

Deno.test("name_invalid says which rule was broken, about the name as sent", () => {
  const reason = (raw: string) => {
    try {
      normalizeName(raw);
      return "accepted";
    } catch (error) {
      assert.ok(error instanceof ProtocolError);
      assert.equal(error.code, "name_invalid");
      return error.message;
    }
  };
  assert.equal(
    reason("Ana\tB"),
    "A name must be one line: no tabs or line breaks",
  );
  assert.match(reason("Ana!"), /^"!" \(U\+0021\) is not allowed in a name/);
  assert.match(reason("Ana\u200Bx"), /^U\+200B is not allowed in a name/);
  assert.equal(reason("\u0301a"), "A name cannot start with an accent or mark");
  assert.equal(
    reason("x\u0301\u0302\u0303\u0304"),
    "At most two accents or marks on one letter",
  );
});
