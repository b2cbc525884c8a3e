/**
 * What an operator relies on, against the real server as a child process:
 * /metrics, JSON logs, /healthz, backups under load, a database file
 * deleted while running, and a full disk.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { TestClient } from "./helpers.ts";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";

interface Started {
  chat: ChatProcess;
  port: number;
  wsUrl: string;
  dataDir: string;
}

async function startChat(
  args: string[] = [],
  dataDir = Deno.makeTempDirSync({ prefix: "chat-ops-" }),
): Promise<Started> {
  const chat = spawnChat(
    ...serverCommand(
      [
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--send-rate",
        "1000",
        "--send-burst",
        "1000",
        ...args,
      ],
      dataDir,
    ),
  );
  const port = await chat.port;
  return { chat, port, wsUrl: `ws://127.0.0.1:${port}/ws`, dataDir };
}

/** The value of an unlabelled sample, or of one with exactly `labels`. */
function sample(metrics: string, name: string, labels = ""): number {
  const line = metrics.split("\n").find((l) =>
    l.startsWith(`${name}${labels} `)
  );
  assert.ok(line, `${name}${labels} in:\n${metrics}`);
  return Number(line.split(" ")[1]);
}

async function metricsOf(port: number, headers?: HeadersInit) {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers,
  });
  return { status: response.status, text: await response.text() };
}

/** Sends `text` as a new message and resolves with its seq once acked. */
async function sendAcked(
  client: TestClient,
  id: string,
  text = id,
): Promise<number> {
  client.send({ type: "send", id, text });
  await client.until(
    () => client.all("ack").some((a) => a.id === id),
    `acked ${id}`,
  );
  return client.all("ack").find((a) => a.id === id)!.seq;
}

function messagesIn(path: string): { seq: number; client_id: string }[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    assert.equal(
      db.prepare("PRAGMA integrity_check").get()?.["integrity_check"],
      "ok",
    );
    return db.prepare(
      "SELECT seq, client_id FROM messages WHERE room = 'main' ORDER BY seq",
    ).all().map((row) => ({
      seq: Number(row["seq"]),
      client_id: String(row["client_id"]),
    }));
  } finally {
    db.close();
  }
}

Deno.test("/metrics counts what happened, for this machine only unless exposed", async () => {
  const server = await startChat();
  const { client: alice } = await TestClient.join(server.wsUrl);
  const { client: bob } = await TestClient.join(server.wsUrl);
  try {
    await sendAcked(alice, "m1");
    await bob.until(
      () => bob.all("chat").some((c) => c.message.clientId === "m1"),
      "delivered to bob",
    );
    alice.send({ type: "send", id: "", text: "no id" });
    await alice.next("error");

    const { status, text } = await metricsOf(server.port);
    assert.equal(status, 200);
    assert.equal(sample(text, "chat_connections"), 2);
    assert.equal(sample(text, "chat_rooms"), 1);
    assert.equal(sample(text, "chat_messages_stored_total"), 1);
    assert.equal(sample(text, "chat_acks_total"), 1);
    // The message reached both members (and the joins reached alice).
    assert.ok(sample(text, "chat_deliveries_total") >= 2, text);
    assert.equal(sample(text, "chat_ack_latency_seconds_count"), 1);
    assert.ok(sample(text, "chat_commit_latency_seconds_count") >= 1, text);
    // Two welcomes, each timed by stage; deliveries timed on their way out.
    assert.equal(
      sample(text, "chat_join_stage_seconds_count", '{stage="total"}'),
      2,
    );
    assert.equal(
      sample(text, "chat_join_stage_seconds_count", '{stage="session"}'),
      2,
    );
    assert.ok(
      sample(text, "chat_delivery_stage_seconds_count", '{stage="fanout"}') >=
        1,
      text,
    );
    assert.equal(
      sample(text, "chat_refusals_total", '{code="bad_message"}'),
      1,
    );
    assert.equal(sample(text, "chat_store_healthy"), 1);
    assert.ok(sample(text, "process_resident_memory_bytes") > 1_000_000);
    // Every sample belongs to a declared family.
    for (const line of text.trim().split("\n")) {
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? [\d.e+-]+)$/);
    }

    // Through a proxy on this machine, the request is someone else's.
    const relayed = await metricsOf(server.port, {
      "x-forwarded-for": "203.0.113.9",
    });
    assert.equal(relayed.status, 403);
    assert.match(relayed.text, /--expose-metrics/);
  } finally {
    await alice.close();
    await bob.close();
    await server.chat.stop();
  }
  const exposed = await startChat(["--expose-metrics"]);
  try {
    const relayed = await metricsOf(exposed.port, {
      "x-forwarded-for": "203.0.113.9",
    });
    assert.equal(relayed.status, 200);
  } finally {
    await exposed.chat.stop();
  }
});

Deno.test("--log-format json: every line is one JSON object; the configuration is logged without secrets", async () => {
  const server = await startChat([
    "--log-format",
    "json",
    "--log-level",
    "info",
  ]);
  const { client } = await TestClient.join(server.wsUrl);
  await sendAcked(client, "j1");
  await client.close();
  const status = await server.chat.stop();
  assert.equal(status.code, 0);
  const lines = server.chat.output().trim().split("\n");
  assert.ok(lines.length >= 3, server.chat.output());
  const records = lines.map((line) => JSON.parse(line));
  for (const record of records) {
    assert.equal(typeof record.time, "string");
    assert.ok(["error", "warn", "info", "debug"].includes(record.level));
    assert.equal(typeof record.msg, "string");
  }
  const starting = records.find((r) => r.msg === "starting");
  assert.equal(starting?.config.port, 0);
  assert.equal(starting?.config.logFormat, "json");
  assert.ok(records.some((r) => /joined/.test(r.msg)), "the join is logged");

  // A Redis password never reaches the log (the start fails at once: no
  // Redis listens there, which is fine for this check).
  const secret = spawnChat(...serverCommand([
    "--port",
    "0",
    "--log-format",
    "json",
    "--redis",
    "redis://user:hunter2@127.0.0.1:1",
  ]));
  await secret.child.status;
  await secret.stop();
  assert.doesNotMatch(secret.output(), /hunter2/);
  assert.match(secret.output(), /redis:\/\/127\.0\.0\.1:1/);
});

Deno.test("a backup taken under 100 msg/s holds every message acknowledged before it, and passes integrity_check", async () => {
  const server = await startChat(["--log-level", "info"]);
  const { client } = await TestClient.join(server.wsUrl);
  const ackedAt = new Map<string, number>();
  let sent = 0;
  client.socket.addEventListener("message", (event) => {
    if (String(event.data).includes('"ack"')) {
      for (const match of String(event.data).matchAll(/"id":"(l\d+)"/g)) {
        ackedAt.set(match[1]!, performance.now());
      }
    }
  });
  // 100 messages a second, for at most 4 s.
  const sender = setInterval(() => {
    if (sent < 400) client.send({ type: "send", id: `l${sent++}`, text: "x" });
  }, 10);
  try {
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const ackedBefore = new Set(ackedAt.keys());
    assert.ok(ackedBefore.size > 50, `acked ${ackedBefore.size}`);
    server.chat.child.kill("SIGUSR2");
    let written: string | undefined;
    for (let i = 0; i < 100 && !written; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      written = /backup written to (\S+\.db)/.exec(server.chat.output())?.[1];
    }
    assert.ok(written, `no backup line in:\n${server.chat.output()}`);
    assert.match(written, /\/backups\/chat-\d{8}T\d{6}Z-manual\.db$/);
    const inBackup = new Set(messagesIn(written).map((m) => m.client_id));
    const missing = [...ackedBefore].filter((id) => !inBackup.has(id));
    assert.deepEqual(missing, [], "acknowledged before the backup");
    // Seqs in the copy are contiguous from 1: a consistent snapshot.
    const seqs = messagesIn(written).map((m) => m.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1));
    assert.ok(
      !/\.partial/.test(
        [...Deno.readDirSync(`${server.dataDir}/backups`)].map((e) => e.name)
          .join(),
      ),
    );
  } finally {
    clearInterval(sender);
    await client.close();
    await server.chat.stop();
  }
});

Deno.test("--backup-every keeps the newest --backup-keep snapshots", async () => {
  const server = await startChat([
    "--backup-every",
    "1s",
    "--backup-keep",
    "2",
    "--log-level",
    "info",
  ]);
  try {
    const count = () =>
      (server.chat.output().match(/backup written/g) ?? []).length;
    for (let i = 0; i < 100 && count() < 4; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok(count() >= 4, server.chat.output());
    const files = [...Deno.readDirSync(`${server.dataDir}/backups`)]
      .map((e) => e.name).sort();
    assert.equal(files.length, 2, files.join());
    for (const file of files) {
      messagesIn(`${server.dataDir}/backups/${file}`);
    }
  } finally {
    await server.chat.stop();
  }
});

Deno.test("a database file deleted while running: nothing more is acknowledged, /healthz says why", async () => {
  const server = await startChat();
  const { client } = await TestClient.join(server.wsUrl);
  try {
    await sendAcked(client, "before");
    const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();

    Deno.removeSync(`${server.dataDir}/chat.db`);
    client.send({ type: "send", id: "after", text: "into the void?" });
    const error = await client.next("error");
    assert.equal(error.code, "store_unavailable");
    assert.equal(error.ref, "after");
    assert.ok(!client.all("ack").some((a) => a.id === "after"));

    const sick = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.equal(sick.status, 503);
    const body = await sick.json();
    assert.equal(body.status, "unavailable");
    assert.match(body.reason, /deleted or replaced/);
    assert.match(server.chat.output(), /error .*deleted or replaced/);
  } finally {
    await client.close();
    const status = await server.chat.stop();
    assert.equal(status.code, 0, server.chat.output());
  }
});

/** A small tmpfs, when this process may mount one (root on Linux). */
function smallDisk(sizeKb: number): string | null {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return null;
  const dir = Deno.makeTempDirSync({ prefix: "chat-full-" });
  const mount = new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${sizeKb}k`, "tmpfs", dir],
    stderr: "null",
  }).outputSync();
  if (!mount.success) {
    Deno.removeSync(dir);
    return null;
  }
  return dir;
}

function remount(dir: string, sizeKb: number): void {
  const result = new Deno.Command("mount", {
    args: ["-o", `remount,size=${sizeKb}k`, dir],
  }).outputSync();
  assert.ok(result.success, new TextDecoder().decode(result.stderr));
}

const canMount = (() => {
  const dir = smallDisk(64);
  if (dir === null) return false;
  new Deno.Command("umount", { args: [dir] }).outputSync();
  Deno.removeSync(dir);
  return true;
})();
if (!canMount) {
  console.log(
    "NOT RUN: the full-disk test needs to mount a small tmpfs (root on Linux); it is reported as ignored.",
  );
}

Deno.test({
  name:
    "a full disk: sends, renames and new tokens are refused, not pretended; SIGTERM exits cleanly; nothing acknowledged is lost",
  ignore: !canMount,
  fn: async () => {
    const disk = smallDisk(1024)!;
    let server: Started | undefined;
    try {
      server = await startChat([], disk);
      const { client } = await TestClient.join(server.wsUrl);
      const acked: string[] = [];
      // Big messages until one is refused, then small ones until even a
      // one-page write is: the disk is then full for a session write too.
      let size = 3900;
      let refusal: string | undefined;
      for (let i = 0; i < 2000 && !(refusal && size === 10); i++) {
        if (refusal) {
          size = size === 3900 ? 500 : 10;
          refusal = undefined;
        }
        const id = `f${i}`;
        client.send({ type: "send", id, text: "x".repeat(size) });
        const error = () => client.all("error").find((e) => e.ref === id);
        await client.until(
          () => client.all("ack").some((a) => a.id === id) || !!error(),
          `an answer to ${id}`,
        );
        const reply = error()?.code ?? "ack";
        if (reply === "ack") acked.push(id);
        else refusal = reply;
      }
      assert.equal(refusal, "store_unavailable", "refused once full");
      assert.ok(acked.length > 10, `acked ${acked.length}`);

      // A rename is not announced when it cannot be stored.
      client.send({ type: "rename", name: "Nueva" });
      await client.until(
        () => client.all("error").some((e) => e.ref === "rename"),
        "the rename refused",
      );
      assert.equal(
        client.all("error").find((e) => e.ref === "rename")?.code,
        "store_unavailable",
      );
      assert.equal(client.all("renamed").length, 0);
      // A newcomer gets no token the server would forget.
      const newcomer = await TestClient.open(server.wsUrl);
      newcomer.send({ type: "hello", room: "main" });
      const refused = await newcomer.next("error");
      assert.equal(refused.code, "store_unavailable");
      assert.equal(newcomer.all("welcome").length, 0);
      await newcomer.closed;

      const health = await fetch(`http://127.0.0.1:${server.port}/healthz`);
      assert.equal(health.status, 503);
      assert.match((await health.json()).reason, /full/);

      await client.close();
      const status = await server.chat.stop();
      assert.equal(status.code, 0, server.chat.output());
      assert.doesNotMatch(server.chat.output(), /^\s+at /m, "no stack trace");

      // Room again: every acknowledged message is there after a restart.
      remount(disk, 16 * 1024);
      server = await startChat([], disk);
      await server.chat.stop();
      const stored = new Set(
        messagesIn(`${disk}/chat.db`).map((m) => m.client_id),
      );
      assert.deepEqual(acked.filter((id) => !stored.has(id)), []);
    } finally {
      await server?.chat.stop();
      const unmounted = new Deno.Command("umount", { args: [disk] })
        .outputSync();
      if (unmounted.success) Deno.removeSync(disk, { recursive: true });
    }
  },
});

Deno.test("starting the chat downloads nothing: test-only and Redis packages stay off the start path", async () => {
  // Exactly the README's start command (deno task start, build step
  // included), with an empty Deno cache; in memory, so it touches no ./data.
  const denoDir = Deno.makeTempDirSync({ prefix: "chat-deno-dir-" });
  const chat = spawnChat(
    Deno.execPath(),
    ["task", "start", "--port", "0", "--host", "127.0.0.1", "--db", ":memory:"],
    { DENO_DIR: denoDir },
  );
  try {
    const port = await chat.port;
    const health = await fetch(`http://127.0.0.1:${port}/healthz`);
    assert.equal(health.status, 200);
    await health.body?.cancel();
    assert.match(chat.output(), /Client assets up to date/);
    assert.doesNotMatch(chat.output(), /Download/);
    const npm = [...walkNames(`${denoDir}/npm`)];
    assert.deepEqual(npm, [], "no npm package in the fresh cache");
  } finally {
    await chat.stop();
    Deno.removeSync(denoDir, { recursive: true });
  }
});

/** Every file and directory name under `dir` (none if it does not exist). */
function* walkNames(dir: string): Generator<string> {
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(dir)];
  } catch {
    return;
  }
  for (const entry of entries) {
    yield entry.name;
    if (entry.isDirectory) yield* walkNames(`${dir}/${entry.name}`);
  }
}
