/**
 * The moderator link as an operator meets it: printed once on the first
 * start, kept (hashed) across restarts, replaced by --new-moderator-link
 * while the chat runs, or read from --moderator-key-file. Real processes
 * with the start task's permissions; a deletion survives the restart.
 */

import assert from "node:assert/strict";
import { finished, serverCommand, spawnChat } from "./process.ts";
import { TestClient } from "./helpers.ts";

const LINK = /http:\/\/localhost:\d+\/#mod=([A-Za-z0-9_-]+)/;

async function start(dataDir: string, args: string[] = []) {
  const chat = spawnChat(...serverCommand(["--port", "0", ...args], dataDir));
  const port = await chat.port;
  // The link is printed right after the addresses.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { chat, wsUrl: `ws://127.0.0.1:${port}/ws` };
}

async function joinAs(wsUrl: string, moderatorKey?: string) {
  return await TestClient.join(wsUrl, moderatorKey ? { moderatorKey } : {});
}

/** A hello to room "civil" that must be refused with `code`. */
async function refused(wsUrl: string, hello: Record<string, unknown>) {
  const client = await TestClient.open(wsUrl);
  client.send({ type: "hello", room: "civil", ...hello });
  const error = await client.next("error");
  await client.closed;
  return error;
}

Deno.test("the moderator link: shown once, kept across restarts, replaced by --new-moderator-link", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "chat-mod-" });
  let first = await start(dataDir);
  try {
    const key = LINK.exec(first.chat.output())?.[1];
    assert.ok(key, `a moderator link is printed:\n${first.chat.output()}`);
    assert.ok(key.length >= 22, "at least 128 bits");
    const stored = Deno.readTextFileSync(`${dataDir}/moderator-key.sha256`);
    assert.equal(stored.includes(key), false, "only a hash is stored");
    assert.equal(
      Deno.statSync(`${dataDir}/moderator-key.sha256`).mode! & 0o077,
      0,
      "readable by its owner alone",
    );

    const { client: ana } = await joinAs(first.wsUrl);
    ana.send({ type: "send", id: "m1", text: "rude words" });
    const { seq } = await ana.next("ack");
    const { client: mod, welcome } = await joinAs(first.wsUrl, key);
    assert.equal(welcome.moderator, true);
    mod.send({ type: "delete", id: "d1", target: seq });
    await mod.next("ack");

    // In room "civil": Bea kicked, Cy muted, the room locked; all of it
    // must hold after the restart.
    const civil = await TestClient.join(first.wsUrl, {
      room: "civil",
      moderatorKey: key,
    });
    const bea = await TestClient.join(first.wsUrl, { room: "civil" });
    const cy = await TestClient.join(first.wsUrl, { room: "civil" });
    for (
      const [action, user] of [
        ["mute", cy.welcome.you.id],
        ["kick", bea.welcome.you.id],
        ["lock", undefined],
      ] as const
    ) {
      civil.client.send({
        type: "moderate",
        action,
        ...(user ? { user, minutes: 30 } : {}),
      });
      await cy.client.until(
        () => cy.client.all("moderated").some((m) => m.action === action),
        `the ${action} notice`,
      );
    }
    await Promise.all([
      ana.close(),
      mod.close(),
      civil.client.close(),
      bea.client.closed,
      cy.client.close(),
    ]);
    assert.equal((await first.chat.stop()).code, 0);
    assert.match(first.chat.output(), /moderation: .* deleted message 1/);

    // Restarted: no new link, the old key still works, the deletion is kept.
    first = await start(dataDir);
    assert.doesNotMatch(first.chat.output(), /#mod=/);
    const { client: newcomer, welcome: w } = await joinAs(first.wsUrl, key);
    assert.equal(w.moderator, true);
    const entry = w.history.find((m) => m.kind === "delete");
    assert.equal(entry?.target, seq);
    assert.equal(entry?.moderator, true);
    await newcomer.close();

    assert.equal(
      (await refused(first.wsUrl, { resumeToken: bea.welcome.resumeToken }))
        .code,
      "kicked",
      "still kicked after the restart",
    );
    assert.equal(
      (await refused(first.wsUrl, {})).code,
      "room_locked",
      "still locked after the restart",
    );
    const cyBack = await TestClient.join(first.wsUrl, {
      room: "civil",
      resumeToken: cy.welcome.resumeToken,
    });
    assert.equal(cyBack.welcome.locked, true);
    cyBack.client.send({ type: "send", id: "c1", text: "am I heard?" });
    const muted = await cyBack.client.next("error");
    assert.equal(muted.code, "muted", "still muted after the restart");
    assert.ok(muted.retryAfterMs! > 25 * 60_000);
    await cyBack.client.close();

    // A new link while the chat runs: the old one stops working at once.
    const renew = spawnChat(
      ...serverCommand(["--new-moderator-link"], dataDir),
    );
    const { status, output } = await finished(renew);
    assert.equal(status.code, 0, output);
    const newKey = LINK.exec(output)?.[1];
    assert.ok(newKey && newKey !== key, output);
    const old = await joinAs(first.wsUrl, key);
    assert.equal(old.welcome.moderator, undefined);
    assert.equal(old.client.all("error")[0]?.code, "moderator_key_invalid");
    const fresh = await joinAs(first.wsUrl, newKey);
    assert.equal(fresh.welcome.moderator, true);
    await Promise.all([old.client.close(), fresh.client.close()]);
  } finally {
    await first.chat.stop();
    Deno.removeSync(dataDir, { recursive: true });
  }
});

Deno.test("--moderator-key-file: the operator's key, nothing written or printed; a weak one is refused", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "chat-mod-" });
  try {
    Deno.writeTextFileSync(`${dataDir}/weak.key`, "short\n");
    const weak = spawnChat(
      ...serverCommand(
        ["--port", "0", "--moderator-key-file", `${dataDir}/weak.key`],
        dataDir,
      ),
    );
    const refused = await finished(weak);
    assert.equal(refused.status.code, 1);
    assert.match(refused.output, /moderator key .* at least 22/);
    assert.doesNotMatch(refused.output, /\n\s+at /, "no stack trace");

    const key = "operator-secret-key-0123456789";
    Deno.writeTextFileSync(`${dataDir}/mod.key`, `${key}\n`);
    const { chat, wsUrl } = await start(dataDir, [
      "--moderator-key-file",
      `${dataDir}/mod.key`,
    ]);
    try {
      assert.doesNotMatch(chat.output(), /#mod=/);
      const { client, welcome } = await joinAs(wsUrl, key);
      assert.equal(welcome.moderator, true);
      await client.close();
      assert.throws(() => Deno.statSync(`${dataDir}/moderator-key.sha256`));
    } finally {
      await chat.stop();
    }
  } finally {
    Deno.removeSync(dataDir, { recursive: true });
  }
});
