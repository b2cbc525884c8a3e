/**
 * Regenerates docs/screenshot.png, the README's picture: two people chatting
 * in a real server and a real Chromium, seen by one of them at 1280×800,
 * and docs/screenshots/: the same conversation (a link, a mention, an edited
 * and a deleted message) on a 375 px phone and a 1280 px desktop, in light
 * and dark.
 *
 *   deno task build && deno run -A scripts/readme_screenshot.ts
 */

import {
  ENGLISH,
  gotoChat,
  launchChromium,
  rename,
  send,
  SPANISH,
  waitFor,
  waitForMessage,
  waitForNotice,
} from "../tests/browser.ts";
import { startServer } from "../tests/helpers.ts";

const OUTPUT = new URL("../docs/screenshot.png", import.meta.url);
const SCREENSHOTS = new URL("../docs/screenshots/", import.meta.url);
const SIZES = {
  phone: { width: 375, height: 740 },
  desktop: { width: 1280, height: 800 },
};

const CONVERSATION: ["tom" | "lucia", string][] = [
  ["lucia", "¡Hola Tom! ¿Llegaste bien a Madrid?"],
  ["tom", "Hi Lucía! Yes, landed an hour ago. The flat is lovely."],
  [
    "lucia",
    "Genial. ¿Cenamos juntos esta noche? Conozco un sitio de tapas cerca de Sol.",
  ],
  ["tom", "Sounds perfect. Is 9 pm too early for Madrid?"],
  ["lucia", "Un poco, jaja. ¿Quedamos a las 21:30 en la Puerta del Sol?"],
  ["tom", "Deal, see you there!"],
];

if (import.meta.main) {
  const server = startServer();
  const browser = await launchChromium();
  try {
    const url = `${server.url}/r/general`;
    const viewport = { width: 1280, height: 800 };
    const tom = await (await browser.newContext({ ...ENGLISH, viewport }))
      .newPage();
    const lucia = await (await browser.newContext({ ...SPANISH, viewport }))
      .newPage();
    await gotoChat(tom, url);
    await rename(tom, "Tom");
    // Same session after a reload, without the notice about his own rename.
    await tom.reload();
    await waitFor(
      tom,
      "Tom back",
      (s) => s.you === "Tom" && !s.notices.some((n) => n.includes(" is now ")),
    );
    await gotoChat(lucia, url);
    const temporary = (await waitFor(lucia, "a name", (s) => s.you !== "")).you;
    await rename(lucia, "Lucía");
    await waitForNotice(tom, `${temporary} is now Lucía`);
    for (const [who, text] of CONVERSATION) {
      await send(who === "tom" ? tom : lucia, text);
      await waitForMessage(tom, text);
    }
    // Slowly: the server drops a typing notice that follows the last one by
    // under 2 s, and the client only repeats it 3 s later.
    await lucia.locator("#composer-input").pressSequentially(
      "¡Perfecto! Nos vemos allí",
      { delay: 200 },
    );
    await waitFor(tom, "the typing line", (s) => s.typing !== "", 10_000);
    await tom.evaluate("document.activeElement?.blur()");
    await tom.screenshot({ path: OUTPUT.pathname });
    console.log(`Wrote ${OUTPUT.pathname}`);

    // More of what a chat does, for the gallery: a link, a mention, a typo
    // fixed, a message taken back.
    await lucia.locator("#composer-input").fill("");
    await send(lucia, "@Tom mira el menú: https://example.org/tapas");
    await waitForMessage(tom, "@Tom mira el menú: https://example.org/tapas");
    await send(tom, "Great, I'll bring my apetite");
    await waitForMessage(lucia, "Great, I'll bring my apetite");
    const typo = tom.locator(".msg", { hasText: "apetite" }).last();
    await typo.hover();
    await typo.locator(".msg-edit").click();
    await tom.locator("#composer-input").fill(
      "Great, I'll bring my appetite 😄",
    );
    await tom.locator("#composer-input").press("Enter");
    await waitForMessage(lucia, "Great, I'll bring my appetite 😄");
    await send(lucia, "Oops, wrong chat");
    await waitForMessage(tom, "Oops, wrong chat");
    lucia.once("dialog", (dialog) => void dialog.accept());
    const oops = lucia.locator(".msg", { hasText: "Oops, wrong chat" }).last();
    await oops.hover();
    await oops.locator(".msg-delete").click();
    await waitForMessage(tom, "Message deleted");
    await Deno.mkdir(SCREENSHOTS, { recursive: true });
    for (const [size, viewport] of Object.entries(SIZES)) {
      for (const colorScheme of ["light", "dark"] as const) {
        const context = await browser.newContext({
          ...ENGLISH,
          viewport,
          colorScheme,
        });
        const page = await context.newPage();
        await gotoChat(page, url);
        await waitForMessage(page, "Great, I'll bring my appetite 😄");
        await page.evaluate("document.activeElement?.blur()");
        const path = new URL(`${size}-${colorScheme}.png`, SCREENSHOTS)
          .pathname;
        await page.screenshot({ path });
        console.log(`Wrote ${path}`);
        await context.close();
      }
    }
  } finally {
    await browser.close();
    await server.close();
  }
}
