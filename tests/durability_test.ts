/**
 * Durability: the real server as a child process on a real SQLite file,
 * restarted, SIGKILLed and fed bad files.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { type ChatMessage, parseServerFrame } from "../protocol/messages.ts";
import { TestClient } from "./helpers.ts";
import {
  type ChatProcess,
  finished,
  serverCommand,
  spawnChat,
} from "./process.ts";

function tempDir(): string {
  return Deno.makeTempDirSync({ prefix: "chat-durable-" });
}

/** Starts server.ts on a fixed data dir; resolves once it listens. */
async function startChat(
  dataDir: string,
  port = 0,
): Promise<{ chat: ChatProcess; port: number; wsUrl: string }> {
  const chat = spawnChat(
    ...serverCommand(
      // The tests stream faster than one user normally may.
      [
        "--port",
        String(port),
        "--host",
        "127.0.0.1",
        "--send-rate",
        "1000",
        "--send-burst",
        "1000",
      ],
      dataDir,
    ),
  );
  const actual = await chat.port;
  return { chat, port: actual, wsUrl: `ws://127.0.0.1:${actual}/ws` };
}

/** Runs server.ts expecting a startup failure; returns its output. */
async function startupFailure(dataDir: string): Promise<string> {
  const { status, output } = await finished(
    spawnChat(
      ...serverCommand(["--port", "0", "--host", "127.0.0.1"], dataDir),
    ),
  );
  assert.equal(status.code, 1, output);
  assert.equal(output.trim().split("\n").length, 1, `one line: ${output}`);
  assert.doesNotMatch(output, /at .*\.ts:\d+/, "no stack trace");
  return output;
}

async function sha256(path: string): Promise<string> {
  const digest = await crypto.subtle.digest(
    "SHA-256",
    await Deno.readFile(path),
  );
  return Array.from(new Uint8Array(digest), (b) => b.toString(16)).join("");
}

function readDatabase(path: string): {
  messages: ChatMessage[];
  integrity: string;
} {
  const db = new DatabaseSync(path);
  try {
    const integrity = String(
      db.prepare("PRAGMA integrity_check").get()?.["integrity_check"],
    );
    const messages = db.prepare(
      "SELECT seq, time, author_id, author_name, client_id, text FROM messages WHERE room = 'main' ORDER BY seq",
    ).all().map((row) => ({
      seq: Number(row["seq"]),
      time: Number(row["time"]),
      from: { id: String(row["author_id"]), name: String(row["author_name"]) },
      clientId: String(row["client_id"]),
      text: String(row["text"]),
    }));
    return { messages, integrity };
  } finally {
    db.close();
  }
}

Deno.test("after a restart, history, sequence numbers, epoch and names continue", async () => {
  const dataDir = tempDir();
  let { chat, port, wsUrl } = await startChat(dataDir);
  try {
    const { client, welcome } = await TestClient.join(wsUrl);
    client.send({ type: "rename", name: "Ana" });
    await client.next("renamed");
    for (let i = 1; i <= 3; i++) {
      client.send({ type: "send", id: `m${i}`, text: `before ${i}` });
      await client.next("ack");
    }
    const closed = client.closed;
    assert.equal((await chat.stop("SIGTERM")).code, 0);
    assert.equal((await closed).code, 1001);

    ({ chat, port, wsUrl } = await startChat(dataDir, port));
    const { client: again, welcome: resumed } = await TestClient.join(wsUrl, {
      resumeToken: welcome.resumeToken,
      lastSeq: 2,
      epoch: welcome.epoch,
    });
    assert.equal(resumed.resumed, true);
    assert.equal(resumed.epoch, welcome.epoch);
    assert.deepEqual(resumed.you, { id: welcome.you.id, name: "Ana" });
    assert.equal(resumed.recovered, true);
    assert.deepEqual(resumed.history.map((m) => m.text), ["before 3"]);
    again.send({ type: "send", id: "m4", text: "after" });
    assert.equal((await again.next("ack")).seq, 4);
    // A resend of a message committed before the restart is not stored twice.
    again.send({ type: "send", id: "m2", text: "before 2" });
    assert.equal((await again.next("ack")).seq, 2);

    const { client: bea, welcome: fresh } = await TestClient.join(wsUrl);
    assert.deepEqual(
      fresh.history.map((m) => m.seq),
      [1, 2, 3, 4],
    );
    bea.send({ type: "rename", name: "ana" });
    assert.equal((await bea.next("error")).code, "name_taken");
    await Promise.all([again.close(), bea.close()]);
  } finally {
    await chat.stop("SIGKILL");
  }
});

Deno.test("kill -9 mid-stream: every acked message is stored exactly once, in order", async () => {
  const dataDir = tempDir();
  const TOTAL = 1_000;
  const RATE_PER_SECOND = 50;
  const KILL_AT = 500;
  let { chat, port, wsUrl } = await startChat(dataDir);
  const acked = new Map<string, number>();
  const seen = new Map<number, ChatMessage>();
  let token: string | undefined;
  let epoch: string | undefined;
  let lastSeq = 0;
  // A holder object: TypeScript does not track assignments made in closures.
  const current: { client?: TestClient } = {};
  let killed = false;

  // Like the browser client: every unacked message is resent after welcome.
  const connect = async () => {
    const joined = await TestClient.join(wsUrl, {
      ...(token ? { resumeToken: token, lastSeq, epoch } : {}),
    });
    token = joined.welcome.resumeToken;
    epoch = joined.welcome.epoch;
    for (const message of joined.welcome.history) {
      seen.set(message.seq, message);
    }
    joined.client.socket.addEventListener("message", (event) => {
      for (const data of parseServerFrame(String(event.data)) ?? []) {
        if (data.type === "ack") acked.set(data.id, data.seq);
        if (data.type === "history") {
          for (const message of data.messages) seen.set(message.seq, message);
        }
        if (data.type === "chat") {
          seen.set(data.message.seq, data.message);
          lastSeq = Math.max(lastSeq, data.message.seq);
        }
      }
    });
    current.client = joined.client;
    return joined.client;
  };
  const sendUnacked = (upTo: number) => {
    for (let i = 1; i <= upTo; i++) {
      const id = `k${i}`;
      if (!acked.has(id)) {
        current.client?.send({ type: "send", id, text: `message ${i}` });
      }
    }
  };

  try {
    await connect();
    const started = Date.now();
    for (let i = 1; i <= TOTAL; i++) {
      const due = started + (i * 1000) / RATE_PER_SECOND;
      await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
      if (i === KILL_AT && !killed) {
        killed = true;
        await chat.stop("SIGKILL");
        ({ chat, port, wsUrl } = await startChat(dataDir, port));
        await connect();
        sendUnacked(i - 1);
      }
      const client = current.client;
      if (client?.socket.readyState === WebSocket.OPEN) {
        client.send({ type: "send", id: `k${i}`, text: `message ${i}` });
      }
    }
    const deadline = Date.now() + 10_000;
    while (acked.size < TOTAL && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      if (acked.size < TOTAL) sendUnacked(TOTAL);
    }
    assert.equal(acked.size, TOTAL, "every message eventually acked");
    await current.client?.settle(200);
    await current.client?.close();
    assert.equal((await chat.stop("SIGTERM")).code, 0);

    const { messages, integrity } = readDatabase(`${dataDir}/chat.db`);
    assert.equal(integrity, "ok");
    const byClientId = new Map<string, number>();
    for (const message of messages) {
      assert.ok(
        !byClientId.has(message.clientId),
        `duplicate ${message.clientId}`,
      );
      byClientId.set(message.clientId, message.seq);
    }
    for (const [id, seq] of acked) {
      assert.equal(byClientId.get(id), seq, `acked ${id} stored as ${seq}`);
    }
    messages.forEach((message, i) => {
      assert.equal(message.seq, i + 1, "no holes in the sequence");
    });
    // The client's view (live messages + history after the restart) is the
    // database's, message for message.
    const view = [...seen.values()].sort((a, b) => a.seq - b.seq);
    assert.deepEqual(view, messages);
  } finally {
    await chat.stop("SIGKILL");
  }
});

Deno.test("a deleted database means a new epoch: resuming clients get recovered: false", async () => {
  const dataDir = tempDir();
  let { chat, port, wsUrl } = await startChat(dataDir);
  try {
    const { client, welcome } = await TestClient.join(wsUrl);
    client.send({ type: "send", id: "x", text: "lost soon" });
    const ack = await client.next("ack");
    await chat.stop("SIGTERM");
    await client.closed;
    await Deno.remove(dataDir, { recursive: true });
    ({ chat, port, wsUrl } = await startChat(dataDir, port));
    const { client: again, welcome: after } = await TestClient.join(wsUrl, {
      resumeToken: welcome.resumeToken,
      lastSeq: ack.seq,
      epoch: welcome.epoch,
    });
    assert.notEqual(after.epoch, welcome.epoch);
    assert.equal(after.recovered, false);
    assert.equal(after.resumed, false, "the old session is gone too");
    assert.deepEqual(after.history, []);
    again.send({ type: "send", id: "y", text: "still works" });
    assert.equal((await again.next("ack")).seq, 1);
    await again.close();
  } finally {
    await chat.stop("SIGKILL");
  }
});

Deno.test("SIGTERM closes every client with 1001 within a second and exits 0", async () => {
  const { chat, wsUrl } = await startChat(tempDir());
  try {
    const clients = await Promise.all(
      Array.from({ length: 20 }, () => TestClient.join(wsUrl)),
    );
    const started = Date.now();
    const closes = clients.map(({ client }) => client.closed);
    chat.child.kill("SIGTERM");
    const events = await Promise.all(closes);
    const elapsed = Date.now() - started;
    assert.ok(events.every((e) => e.code === 1001));
    assert.ok(elapsed < 1000, `all closed after ${elapsed} ms`);
    assert.equal((await chat.child.status).code, 0);
  } finally {
    await chat.stop("SIGKILL");
  }
});

Deno.test("a file that is not a database is refused and left unchanged", async () => {
  const dataDir = tempDir();
  const path = `${dataDir}/chat.db`;
  await Deno.writeTextFile(
    path,
    "my important notes, not a database\n".repeat(50),
  );
  const before = await sha256(path);
  const output = await startupFailure(dataDir);
  assert.match(output, /not a chat database/);
  assert.equal(await sha256(path), before);
});

Deno.test("somebody else's SQLite database is refused and left unchanged", async () => {
  const dataDir = tempDir();
  const path = `${dataDir}/chat.db`;
  const db = new DatabaseSync(path);
  db.exec("CREATE TABLE recipes (name TEXT)");
  db.close();
  const before = await sha256(path);
  assert.match(await startupFailure(dataDir), /not a chat database/);
  assert.equal(await sha256(path), before);
});

Deno.test("a corrupted database is refused and left unchanged", async () => {
  const dataDir = tempDir();
  const path = `${dataDir}/chat.db`;
  {
    const { chat, wsUrl } = await startChat(dataDir);
    const { client } = await TestClient.join(wsUrl);
    for (let i = 0; i < 200; i++) {
      client.send({ type: "send", id: `c${i}`, text: "x".repeat(500) });
    }
    for (let i = 0; i < 200; i++) await client.next("ack");
    await client.close();
    assert.equal((await chat.stop("SIGTERM")).code, 0);
  }
  const bytes = await Deno.readFile(path);
  // Scribble over the middle of the file, past the header page.
  for (let i = 8192; i < 8192 + 4096 && i < bytes.length; i++) bytes[i] = 0xA5;
  await Deno.writeFile(path, bytes);
  const before = await sha256(path);
  assert.match(await startupFailure(dataDir), /corrupted|malformed/);
  assert.equal(await sha256(path), before);
});

Deno.test("a database from a newer version is refused and left unchanged", async () => {
  const dataDir = tempDir();
  const path = `${dataDir}/chat.db`;
  const db = new DatabaseSync(path);
  db.exec("PRAGMA user_version = 99");
  db.close();
  const before = await sha256(path);
  assert.match(await startupFailure(dataDir), /newer version/);
  assert.equal(await sha256(path), before);
});

Deno.test("a database in use by another server is refused with a clear reason", async () => {
  const dataDir = tempDir();
  const { chat } = await startChat(dataDir);
  try {
    assert.match(
      await startupFailure(dataDir),
      /locked: another chat server is probably using it/,
    );
  } finally {
    await chat.stop();
  }
});

Deno.test("a data directory that cannot be created gives one clear line", async () => {
  const parent = tempDir();
  await Deno.writeTextFile(`${parent}/file`, "not a directory");
  const output = await startupFailure(`${parent}/file/data`);
  assert.match(output, /cannot create the data directory/);
});
