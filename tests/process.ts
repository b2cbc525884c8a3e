/** Runs the real entry point (or the compiled binary) as a child process. */

import { ENV_VARS } from "../server/config.ts";

export interface ChatProcess {
  child: Deno.ChildProcess;
  /** Resolves with the port from the startup line. */
  port: Promise<number>;
  /** Everything printed so far, stdout and stderr together. */
  output(): string;
  /** Sends a signal and resolves with the exit status. */
  stop(signal?: Deno.Signal): Promise<Deno.CommandStatus>;
}

/**
 * `deno run server.ts` with the same narrow permissions as `deno task start`,
 * its data directory moved to `dataDir` (a fresh temporary one by default)
 * so tests never touch ./data.
 */
export function serverCommand(
  args: string[],
  dataDir: string = Deno.makeTempDirSync({ prefix: "chat-test-" }),
): [string, string[]] {
  return [Deno.execPath(), [
    "run",
    "--allow-net",
    `--allow-env=${ENV_VARS.join(",")}`,
    "--allow-sys=networkInterfaces",
    `--allow-read=${dataDir},server/redis`,
    `--allow-write=${dataDir}`,
    "server.ts",
    "--data",
    dataDir,
    ...args,
  ]];
}

export function spawnChat(
  command: string,
  args: string[],
  env: Record<string, string> = {},
  cwd: string = new URL("..", import.meta.url).pathname,
): ChatProcess {
  const child = new Deno.Command(command, {
    args,
    cwd,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let text = "";
  let resolvePort: (port: number) => void = () => {};
  let rejectPort: (error: Error) => void = () => {};
  const port = new Promise<number>((resolve, reject) => {
    resolvePort = resolve;
    rejectPort = reject;
  });
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      const match = /http:\/\/(?:localhost|127\.0\.0\.1):(\d+)/.exec(text);
      if (match?.[1]) resolvePort(Number(match[1]));
    }
  };
  // Tests that expect an early exit never await the port.
  port.catch(() => {});
  const pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
  child.status.then(async () => {
    await pumps;
    rejectPort(new Error(`Process exited before listening:\n${text}`));
  });
  return {
    child,
    port,
    output: () => text,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // Already exited.
      }
      const status = await child.status;
      await pumps;
      return status;
    },
  };
}

/** Waits for the child to exit by itself, returning its status and output. */
export async function finished(
  chat: ChatProcess,
): Promise<{ status: Deno.CommandStatus; output: string }> {
  const status = await chat.child.status;
  // Let the pumps drain.
  await new Promise((resolve) => setTimeout(resolve, 50));
  return { status, output: chat.output() };
}

/** A chat instance of a cluster, started as the user would. */
export interface ChatInstance {
  process: ChatProcess;
  port: number;
  wsUrl: string;
}

/**
 * Starts `count` instances of the chat on one Redis (`server.ts --redis`),
 * each on a free port with its own temporary data directory.
 */
export async function startChatInstances(
  redisUrl: string,
  count: number,
  args: string[] = [],
): Promise<ChatInstance[]> {
  const instances: ChatInstance[] = [];
  for (let i = 0; i < count; i++) {
    const process = spawnChat(
      ...serverCommand(["--port", "0", "--redis", redisUrl, ...args]),
    );
    const port = await process.port;
    instances.push({ process, port, wsUrl: `ws://127.0.0.1:${port}/ws` });
  }
  return instances;
}
