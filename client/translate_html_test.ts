import assert from "node:assert/strict";
import { translateHtml } from "./translate_html.ts";

const PAGE = new URL("./index.html", import.meta.url);

Deno.test("the page is made in Spanish from the script's own dictionary", () => {
  const html = Deno.readTextFileSync(PAGE);
  const es = translateHtml(html, "es");
  assert.match(es, /<html lang="es"/);
  assert.match(es, /data-i18n="renameButton">\s*Cambiar nombre\s*</);
  assert.match(es, /data-i18n="send">Enviar</);
  assert.match(
    es,
    /data-i18n-placeholder="composerPlaceholder"\s+placeholder="[^"]*mensaje[^"]*"/i,
  );
  assert.doesNotMatch(es, />\s*Change name\s*</);
  // English is the page as written.
  assert.equal(
    translateHtml(html, "en").replace(/\s+/g, " "),
    html.replace(/\s+/g, " "),
  );
});

Deno.test("translations are escaped, never markup", () => {
  const out = translateHtml('<p data-i18n="nope">a &amp; b</p>', "es");
  assert.equal(out, '<p data-i18n="nope">a &amp; b</p>', "unknown keys stay");
});
