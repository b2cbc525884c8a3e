/**
 * An empty room says what to do: share this link, by copy or by a QR code
 * that phones in the same room can scan. The QR code is decoded here with
 * an independent reader (jsQR).
 */

import assert from "node:assert/strict";
// Test-only, pinned here like the browser driver.
// deno-lint-ignore no-import-prefix
import jsQRModule from "npm:jsqr@1.4.0";
import { browserTest, ENGLISH, send, waitForMessage } from "./browser.ts";
import { startServer } from "./helpers.ts";

/** The package is CommonJS: its function is the module itself at run time. */
type Decode = (
  data: Uint8ClampedArray,
  width: number,
  height: number,
) => { data: string } | null;
const jsQR = jsQRModule as unknown as Decode;

browserTest(
  "an empty room offers its LAN address to share, as text and as a QR code that decodes to it; it goes once someone writes",
  async (t) => {
    const server = startServer({}, {
      shareUrls: () => ["http://192.0.2.7:8765"],
    });
    t.defer(() => server.close());
    const page = await t.openChat(`${server.url}/r/empty`, ENGLISH);
    const panel = page.locator("#empty-room");
    await panel.waitFor({ state: "visible" });
    assert.match(await panel.textContent() ?? "", /You're the first one here/);
    const expected = "http://192.0.2.7:8765/r/empty";
    assert.equal(await page.locator("#share-url").textContent(), expected);

    const image = await page.locator("#share-qr").evaluate((canvas) => {
      const c = canvas as unknown as {
        width: number;
        height: number;
        getContext(kind: "2d"): {
          getImageData(x: number, y: number, w: number, h: number): {
            data: ArrayLike<number>;
          };
        };
      };
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height);
      return { width: c.width, height: c.height, data: Array.from(data.data) };
    });
    const decoded = jsQR(
      new Uint8ClampedArray(image.data),
      image.width,
      image.height,
    );
    assert.equal(decoded?.data, expected, "the QR code is the room's address");

    await send(page, "hola");
    await waitForMessage(page, "hola");
    await panel.waitFor({ state: "hidden" });
  },
);
