/**
 * The real entry point as a child process: startup line, page, WebSocket
 * round trip, clean shutdown, and the one-line startup errors.
 */

import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import { finished, serverCommand, spawnChat } from "./process.ts";

Deno.test("server.ts prints the URL, serves the page and chats, and exits 0 on SIGTERM", async () => {
  const chat = spawnChat(
    ...serverCommand(["--port", "0", "--host", "127.0.0.1"]),
  );
  try {
    const port = await chat.port;
    assert.match(chat.output(), /Chat is running/);
    const page = await fetch(`http://127.0.0.1:${port}/`);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /app\.js/);
    const { client, welcome } = await TestClient.join(
      `ws://127.0.0.1:${port}/ws`,
    );
    client.send({ type: "send", id: "smoke", text: "¡hola!" });
    const chatEvent = await client.next("chat");
    assert.equal(chatEvent.message.text, "¡hola!");
    assert.equal(chatEvent.message.from.id, welcome.you.id);
    const closed = client.closed;
    const status = await chat.stop("SIGTERM");
    assert.equal((await closed).code, 1001, "clients are told to reconnect");
    assert.equal(status.code, 0, chat.output());
  } finally {
    await chat.stop("SIGKILL");
  }
});

Deno.test("a port already in use gives one clear line and a non-zero exit", async () => {
  const blocker = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const port = blocker.addr.port;
  try {
    const chat = spawnChat(
      ...serverCommand(["--port", String(port), "--host", "127.0.0.1"]),
    );
    const { status, output } = await finished(chat);
    assert.equal(status.code, 1);
    const lines = output.trim().split("\n");
    assert.equal(lines.length, 1, output);
    assert.match(lines[0] ?? "", new RegExp(`port ${port} is already in use`));
    assert.match(lines[0] ?? "", /--port/);
    assert.doesNotMatch(output, /at .*\.ts:\d+/, "no stack trace");
  } finally {
    blocker.close();
  }
});

Deno.test("bad flags give one clear line and a non-zero exit", async () => {
  for (
    const args of [["--port", "eighty"], ["--bogus"], ["--log-level", "loud"]]
  ) {
    const { status, output } = await finished(
      spawnChat(...serverCommand(args)),
    );
    assert.equal(status.code, 1, args.join(" "));
    assert.equal(output.trim().split("\n").length, 1, output);
    assert.match(output, /^Error: /);
  }
});

Deno.test("PORT from the environment is honoured", async () => {
  const probe = Deno.listen({ port: 0, hostname: "127.0.0.1" });
  const free = probe.addr.port;
  probe.close();
  const chat = spawnChat(...serverCommand(["--host", "127.0.0.1"]), {
    PORT: String(free),
  });
  try {
    assert.equal(await chat.port, free);
  } finally {
    await chat.stop();
  }
});

Deno.test("--help lists every flag with its default", async () => {
  const { status, output } = await finished(
    spawnChat(...serverCommand(["--help"])),
  );
  assert.equal(status.code, 0);
  for (const flag of ["--port", "--host", "--log-level", "--help"]) {
    assert.match(output, new RegExp(flag));
  }
  assert.match(output, /default 8765/);
});
