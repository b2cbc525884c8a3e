/**
 * The page's static text is served in the reader's language (their choice
 * on the page, else their browser's), so nobody sees another language
 * flash before the script runs.
 */

import assert from "node:assert/strict";
import { startServer } from "./helpers.ts";

Deno.test("the page comes in the reader's language before any script runs", async () => {
  const server = startServer();
  try {
    const get = async (headers: Record<string, string>) => {
      const response = await fetch(`${server.url}/r/main`, { headers });
      return {
        html: await response.text(),
        vary: response.headers.get("vary"),
      };
    };
    const es = await get({ "accept-language": "es-MX,es;q=0.9,en;q=0.5" });
    assert.match(es.html, /<html lang="es"/);
    assert.match(es.html, />\s*Cambiar nombre\s*</);
    assert.match(es.vary ?? "", /accept-language/);
    const en = await get({ "accept-language": "en-US,en;q=0.9" });
    assert.match(en.html, /<html lang="en"/);
    assert.match(en.html, />\s*Change name\s*</);
    // The choice made on the page wins over the browser's.
    const chosen = await get({
      "accept-language": "es-ES",
      cookie: "other=1; chat-lang=en",
    });
    assert.match(chosen.html, /<html lang="en"/);
  } finally {
    await server.close();
  }
});
