/**
 * Phones: the room's name stays readable at 320 and 360 px, in Spanish
 * (the longest labels), with the rename button still in the header.
 */

import assert from "node:assert/strict";
import { browserTest, SPANISH } from "./browser.ts";
import { startServer } from "./helpers.ts";

browserTest(
  "at 320 and 360 px the room name is shown whole and nothing overflows",
  async (t) => {
    const server = startServer();
    t.defer(() => server.close());
    for (const width of [320, 360]) {
      const page = await t.openChat(`${server.url}/r/clase-3b-tarde`, {
        ...SPANISH,
        viewport: { width, height: 640 },
      });
      const title = page.locator(".room-title");
      await page.locator("#room-name", { hasText: "clase-3b-tarde" })
        .waitFor();
      const fits = await title.evaluate((node) =>
        node.scrollWidth <= node.clientWidth
      );
      assert.ok(fits, `the room name is not cut at ${width} px`);
      const button = await page.locator("#rename-button").boundingBox();
      assert.ok(button && button.x + button.width <= width, "rename in view");
      const overflow = await page.locator("html").evaluate((root) =>
        root.scrollWidth - root.clientWidth
      );
      assert.equal(overflow, 0, `no sideways scrolling at ${width} px`);
    }
  },
);
