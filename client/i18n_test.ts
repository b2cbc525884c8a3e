import assert from "node:assert/strict";
import { ERROR_CODES } from "../protocol/messages.ts";
import {
  crowdText,
  DICTIONARIES,
  documentTitle,
  errorText,
  pickLang,
  t,
} from "./i18n.ts";

Deno.test("Spanish and English dictionaries have identical keys", () => {
  assert.deepEqual(
    Object.keys(DICTIONARIES.es).sort(),
    Object.keys(DICTIONARIES.en).sort(),
  );
});

Deno.test("every string is non-empty in both languages", () => {
  for (const dictionary of Object.values(DICTIONARIES)) {
    for (const [key, value] of Object.entries(dictionary)) {
      assert.ok(value.trim().length > 0, `empty string for "${key}"`);
    }
  }
});

Deno.test("every protocol error code has a translation in both languages", () => {
  for (const code of ERROR_CODES) {
    const es = errorText("es", code, "FALLBACK");
    const en = errorText("en", code, "FALLBACK");
    assert.notEqual(es, "FALLBACK", `no Spanish text for "${code}"`);
    assert.notEqual(en, "FALLBACK", `no English text for "${code}"`);
    assert.notEqual(es, en, `"${code}" is not translated`);
  }
});

Deno.test("errorText falls back to the server's message for unknown codes", () => {
  assert.equal(
    errorText("es", "brand_new_code", "Server says no"),
    "Server says no",
  );
});

Deno.test("pickLang prefers the stored choice, then the browser language", () => {
  assert.equal(pickLang("en", "es-ES"), "en");
  assert.equal(pickLang("es", "en-US"), "es");
  assert.equal(pickLang(null, "es-MX"), "es");
  assert.equal(pickLang(null, "ES"), "es");
  assert.equal(pickLang("fr", "de-DE"), "en");
  assert.equal(pickLang(null, undefined), "en");
});

Deno.test("t fills placeholders", () => {
  assert.equal(t("es", "typingOne", { name: "Ana" }), "Ana está escribiendo…");
  assert.equal(
    t("en", "renamed", { from: "Ana", to: "Bea" }),
    "Ana is now Bea",
  );
  assert.equal(
    t("es", "renamed", { from: "Ana", to: "Bea" }),
    "Ana ahora es Bea",
  );
  assert.equal(
    t("en", "statusReconnectingIn", { s: 5 }),
    "Reconnecting in 5 s…",
  );
  assert.equal(t("es", "joined", { name: "Ana" }), "Ana se unió");
  assert.equal(t("en", "left", { name: "Ana" }), "Ana left");
});

Deno.test("documentTitle shows the unread count only when there is one", () => {
  assert.equal(documentTitle("en", "main", 0), "#main — Chat");
  assert.equal(documentTitle("es", "main", 3), "(3) #main — Chat");
  // Mentions are counted apart, and shown first.
  assert.equal(documentTitle("en", "main", 3, 1), "@1 (3) #main — Chat");
});

Deno.test("crowd notices use each language's list and plural rules", () => {
  assert.equal(
    crowdText("es", "joined", ["Ana", "Bea"], 3),
    "Ana, Bea y 3 más se unieron",
  );
  assert.equal(
    crowdText("en", "joined", ["Ana", "Bea"], 1),
    "Ana, Bea, and 1 other joined",
  );
  assert.equal(crowdText("en", "left", ["Ana", "Bea"], 0), "Ana and Bea left");
  assert.equal(
    crowdText("es", "left", ["Ana", "Bea"], 0),
    "Ana y Bea salieron",
  );
  assert.equal(crowdText("en", "joined", [], 7), "7 people joined");
  assert.equal(
    crowdText("es", "joined", ["Ana"], 0),
    t("es", "joined", { name: "Ana" }),
  );
});
