/**
 * The compiled single-file binary: built with `deno compile` and run from an
 * unrelated directory, it must serve the embedded page and chat. Compiling
 * needs Deno's `denort` runtime, downloaded from Deno's site or given through
 * DENORT_BIN; when neither is possible the test says so plainly and is
 * reported as ignored, never as passed.
 */

import assert from "node:assert/strict";
import { TestClient } from "./helpers.ts";
import { spawnChat } from "./process.ts";
import { ENV_VARS } from "../server/config.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** Why compiling cannot be tried here, or null when it can. */
async function compileBlocker(): Promise<string | null> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) {
    try {
      await Deno.stat(denort);
      return null;
    } catch {
      return `DENORT_BIN points to "${denort}", which does not exist`;
    }
  }
  try {
    const response = await fetch("https://dl.deno.land/", {
      method: "HEAD",
      signal: AbortSignal.timeout(3000),
    });
    await response.body?.cancel();
    return null;
  } catch (error) {
    return `Deno's download site is unreachable (${
      error instanceof Error ? error.message : error
    }) and DENORT_BIN is not set`;
  }
}

const blocker = await compileBlocker();
if (blocker) {
  console.log(
    `NOT RUN: the compiled-binary test, because ${blocker}. It is reported as ignored, not passed.`,
  );
}

Deno.test({
  name:
    "the compiled binary serves the embedded page and chats from any directory",
  ignore: blocker !== null,
  async fn() {
    const outDir = await Deno.makeTempDir({ prefix: "chat-compile-" });
    const binary = `${outDir}/chat`;
    const compile = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        "--exclude-unused-npm",
        "--allow-net",
        `--allow-env=${ENV_VARS.join(",")}`,
        "--allow-sys=networkInterfaces",
        `--allow-read=${outDir}`,
        `--allow-write=${outDir}`,
        "--output",
        binary,
        "server.ts",
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(
      compile.code,
      0,
      new TextDecoder().decode(compile.stderr),
    );
    // Run it from elsewhere: nothing may be read from the source tree.
    const chat = spawnChat(
      binary,
      [
        "--port",
        "0",
        "--host",
        "127.0.0.1",
        "--data",
        `${outDir}/data`,
      ],
      {},
      outDir,
    );
    try {
      const port = await chat.port;
      const page = await fetch(`http://127.0.0.1:${port}/`);
      assert.match(await page.text(), /app\.js/);
      const script = await fetch(`http://127.0.0.1:${port}/app.js`);
      assert.ok((await script.text()).length > 1000);
      const { client } = await TestClient.join(`ws://127.0.0.1:${port}/ws`);
      client.send({ type: "send", id: "bin", text: "compiled" });
      assert.equal((await client.next("chat")).message.text, "compiled");
      await client.close();
      assert.equal((await chat.stop("SIGTERM")).code, 0);
    } finally {
      await chat.stop("SIGKILL");
    }
  },
});
