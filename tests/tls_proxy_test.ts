/**
 * The README's TLS configurations for nginx and Caddy, taken from the README
 * itself, in front of the real chat; Chromium chats over wss:// through each.
 * The certificate is made at test time; nothing is downloaded.
 */

import assert from "node:assert/strict";
import {
  type BrowserTest,
  browserTest,
  ENGLISH,
  ownName,
  send,
  waitForMessage,
} from "./browser.ts";
import { serverCommand, spawnChat } from "./process.ts";
import {
  CADDY,
  NGINX,
  OPENSSL,
  type Proxy,
  readmeBlock,
  runCaddy,
  runNginx,
  selfSignedCertificate,
} from "./proxies.ts";

if (!NGINX || !OPENSSL) {
  console.log(
    "NOT RUN: the nginx TLS test needs nginx and openssl (apt-get install nginx openssl).",
  );
}
if (!CADDY || !OPENSSL) {
  console.log(
    "NOT RUN: the Caddy TLS test needs caddy and openssl (apt-get install caddy openssl).",
  );
}

/** The chat as the README runs it behind a proxy, on a free port. */
async function startChat(t: BrowserTest, publicUrl?: string) {
  const chat = spawnChat(
    ...serverCommand([
      "--port",
      "0",
      "--host",
      "127.0.0.1",
      "--trust-proxy",
      ...(publicUrl ? ["--public-url", publicUrl] : []),
    ]),
  );
  t.defer(() => chat.stop());
  return await chat.port;
}

/** Two pages chat over wss:// through the proxy at `port`. */
async function chatThrough(t: BrowserTest, port: number): Promise<void> {
  const url = `https://localhost:${port}/r/tls`;
  const options = { ...ENGLISH, ignoreHTTPSErrors: true };
  const ana = await t.openChat(url, options);
  const bea = await t.openChat(url, options);
  assert.equal(await ana.evaluate(() => location.protocol), "https:");
  await send(ana, "hola por TLS");
  const seen = await waitForMessage(bea, "hola por TLS");
  assert.equal(
    seen.messages.find((m) => m.text === "hola por TLS")?.author,
    await ownName(ana),
  );
}

browserTest(
  "through the README's nginx TLS configuration (Host rewritten), pages chat over wss://",
  async (t) => {
    const chatPort = await startChat(t);
    const proxy: Proxy = await runNginx(async (block, port, dir) => {
      const { cert, key } = await selfSignedCertificate(dir);
      assert.match(block, /listen 443 ssl;/);
      return block
        .replace("listen 443 ssl;", `listen 127.0.0.1:${port} ssl;`)
        .replace(/ssl_certificate\s+\S+;/, `ssl_certificate ${cert};`)
        .replace(/ssl_certificate_key\s+\S+;/, `ssl_certificate_key ${key};`)
        .replace("http://127.0.0.1:8765", `http://127.0.0.1:${chatPort}`);
    }, await readmeBlock("nginx-tls"));
    t.defer(() => proxy.stop());
    await chatThrough(t, proxy.port);
  },
  { ignore: !NGINX || !OPENSSL },
);

browserTest(
  "through the README's Caddy configuration, pages chat over wss://",
  async (t) => {
    const chatPort = await startChat(t);
    const proxy = await runCaddy(async (block, port, dir) => {
      const { cert, key } = await selfSignedCertificate(dir);
      assert.match(block, /^chat\.example\.org \{/);
      return block
        .replace(
          "chat.example.org {",
          `https://localhost:${port} {\n    tls ${cert} ${key}`,
        )
        .replace("127.0.0.1:8765", `127.0.0.1:${chatPort}`);
    }, await readmeBlock("caddyfile"));
    t.defer(() => proxy.stop());
    await chatThrough(t, proxy.port);
  },
  { ignore: !CADDY || !OPENSSL },
);
