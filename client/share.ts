/**
 * Sharing a room with people nearby: the address to give them (this
 * machine's LAN address when the page was opened on localhost, which a
 * phone cannot reach), and its QR code as a matrix for the view to draw.
 */

// Pinned here, not in deno.json's imports: an entry there would make
// `deno task start` download it (the committed build already holds it).
// deno-lint-ignore no-import-prefix
import qrcode from "npm:qrcode-generator@2.0.4";

const LOCAL_HOSTS = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/;

/**
 * The room's address for others: as opened, unless that is this machine
 * only and the server knows an address others can reach.
 */
export function shareAddress(
  page: { origin: string; hostname: string; pathname: string },
  serverUrls: readonly string[],
): string {
  const reachable = serverUrls[0];
  if (LOCAL_HOSTS.test(page.hostname) && reachable !== undefined) {
    return `${reachable.replace(/\/+$/, "")}${page.pathname}`;
  }
  return `${page.origin}${page.pathname}`;
}

/** The QR code of `text`: rows of dark (true) and light modules. */
export function qrMatrix(text: string): boolean[][] {
  const qr = qrcode(0, "M");
  qr.addData(text);
  qr.make();
  const size = qr.getModuleCount();
  return Array.from(
    { length: size },
    (_, row) => Array.from({ length: size }, (_, col) => qr.isDark(row, col)),
  );
}
