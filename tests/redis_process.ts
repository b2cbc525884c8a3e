/**
 * Real redis-server processes for tests: each on a free loopback port with
 * its own temporary directory, stopped by PID. Never a system-wide service.
 */

export interface RedisOptions {
  appendonly?: boolean;
  appendfsync?: "always" | "everysec";
  /** Data directory; a fresh temporary one (removed at stop) by default. */
  dir?: string;
  port?: number;
  cluster?: boolean;
}

export interface RedisProcess {
  port: number;
  url: string;
  dir: string;
  readonly pid: number;
  /** Sends a signal (SIGKILL by default) and waits for the exit. */
  kill(signal?: Deno.Signal): Promise<void>;
  /** Starts it again: same port, directory and options. */
  restart(): Promise<void>;
  /** SIGTERM, wait, and remove the temporary directory. */
  stop(): Promise<void>;
  /** What it printed, for failure messages. */
  output(): string;
}

const REDIS_SERVER = "redis-server";

/** Whether redis-server can be run here (tests are ignored otherwise). */
export function redisAvailable(): boolean {
  try {
    const { success } = new Deno.Command(REDIS_SERVER, {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return success;
  } catch {
    return false;
  }
}

/** A port nobody listens on right now. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Resolves once something answers PING on `port`, or throws. */
async function waitForPing(port: number, output: () => string) {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    try {
      const connection = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await connection.write(new TextEncoder().encode("PING\r\n"));
        const buffer = new Uint8Array(64);
        const n = await connection.read(buffer);
        const reply = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
        if (reply.startsWith("+PONG")) return;
      } finally {
        connection.close();
      }
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not start:\n${output()}`);
}

export async function startRedis(
  options: RedisOptions = {},
): Promise<RedisProcess> {
  const port = options.port ?? freePort();
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? await Deno.makeTempDir({ prefix: "chat-redis-" });
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    // Bound to loopback only, so protected mode adds nothing.
    "--protected-mode",
    "no",
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.appendonly ? "yes" : "no",
    "--appendfsync",
    options.appendfsync ?? "everysec",
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ];
  if (options.cluster) {
    args.push(
      "--cluster-enabled",
      "yes",
      "--cluster-config-file",
      "nodes.conf",
      "--cluster-node-timeout",
      "2000",
    );
  }
  let text = "";
  let child: Deno.ChildProcess;
  let pumps: Promise<unknown> = Promise.resolve();
  const launch = async () => {
    child = new Deno.Command(REDIS_SERVER, {
      args,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) text += decoder.decode(chunk);
    };
    pumps = Promise.all([pump(child.stdout), pump(child.stderr)]);
    await waitForPing(port, () => text);
  };
  const kill = async (signal: Deno.Signal = "SIGKILL") => {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
    await child.status;
    await pumps;
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return child.pid;
    },
    kill,
    restart: launch,
    async stop() {
      await kill("SIGTERM");
      if (ownDir) await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
    output: () => text,
  };
}

export interface RedisCluster {
  nodes: RedisProcess[];
  /** Every node's URL, comma-separated: what `--redis` takes. */
  url: string;
  stop(): Promise<void>;
}

/** Three masters (by default) joined into one Redis Cluster. */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisProcess[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(await startRedis({ cluster: true }));
    }
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((n) => `127.0.0.1:${n.port}`),
        "--cluster-replicas",
        "0",
        "--cluster-yes",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!create.success) {
      throw new Error(
        `redis-cli --cluster create failed:\n${
          new TextDecoder().decode(create.stdout)
        }${new TextDecoder().decode(create.stderr)}`,
      );
    }
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      while (true) {
        const info = await new Deno.Command("redis-cli", {
          args: ["-p", String(node.port), "cluster", "info"],
          stdout: "piped",
          stderr: "null",
        }).output();
        if (
          new TextDecoder().decode(info.stdout).includes("cluster_state:ok")
        ) {
          break;
        }
        if (Date.now() > deadline) {
          throw new Error(`the cluster did not become ok on ${node.port}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } catch (error) {
    for (const node of nodes) await node.stop();
    throw error;
  }
  return {
    nodes,
    url: nodes.map((n) => n.url).join(","),
    async stop() {
      for (const node of nodes) await node.stop();
    },
  };
}
