/**
 * Test helpers: a real chat server on an ephemeral port, and a WebSocket
 * client that waits for "the next message of type X" with a timeout.
 */

import { parseServerFrame, type ServerMessage } from "../protocol/messages.ts";
import { Hub, type HubOptions } from "../server/chat/hub.ts";
import { LocalFanout } from "../server/fanout/fanout.ts";
import { createHandler, type HandlerOptions } from "../server/http.ts";
import { MemoryStore } from "../server/store/memory_store.ts";

export interface TestServer {
  hub: Hub;
  store: MemoryStore;
  port: number;
  url: string;
  wsUrl: string;
  close(): Promise<void>;
}

/**
 * Starts hub + HTTP handler on port 0. Sweeps only when the test says so.
 * Every client comes from 127.0.0.1, so the per-address cap is lifted unless
 * `handlerOptions` set it; the caps have their own tests.
 */
export function startServer(
  options: Partial<HubOptions> = {},
  handlerOptions: Omit<HandlerOptions, "hub"> = {},
): TestServer {
  const store = new MemoryStore();
  const hub = new Hub({ store, fanout: new LocalFanout(), ...options });
  const controller = new AbortController();
  const server = Deno.serve(
    {
      port: 0,
      hostname: "127.0.0.1",
      signal: controller.signal,
      onListen: () => {},
    },
    createHandler({ hub, maxConnectionsPerAddress: 10_000, ...handlerOptions }),
  );
  const port = server.addr.port;
  return {
    hub,
    store,
    port,
    url: `http://127.0.0.1:${port}`,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    async close() {
      hub.closeAll(1001, "test over");
      controller.abort();
      await server.finished;
    },
  };
}

type Of<T extends ServerMessage["type"]> = Extract<ServerMessage, { type: T }>;

/** A real WebSocket client that buffers every message it receives. */
export class TestClient {
  readonly socket: WebSocket;
  readonly received: ServerMessage[] = [];
  /** WebSocket frames received; fewer than messages when batched. */
  frames = 0;
  #cursor = 0;
  #waiters: (() => void)[] = [];
  closed: Promise<CloseEvent>;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.onmessage = (event) => {
      const messages = parseServerFrame(String(event.data));
      if (!messages) throw new Error(`Unparseable frame: ${event.data}`);
      this.frames++;
      this.received.push(...messages);
      for (const wake of this.#waiters.splice(0)) wake();
    };
    this.closed = new Promise((resolve) => {
      socket.addEventListener("close", (event) => {
        resolve(event);
        for (const wake of this.#waiters.splice(0)) wake();
      });
    });
  }

  static async open(url: string): Promise<TestClient> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error(`Could not connect to ${url}`));
    });
    return new TestClient(socket);
  }

  /** Opens, says hello and returns the client with its welcome. */
  static async join(
    url: string,
    hello: Record<string, unknown> = {},
  ): Promise<{ client: TestClient; welcome: Of<"welcome"> }> {
    const client = await TestClient.open(url);
    client.send({ type: "hello", room: "main", ...hello });
    const welcome = await client.next("welcome");
    return { client, welcome };
  }

  send(message: unknown): void {
    this.socket.send(
      typeof message === "string" ? message : JSON.stringify(message),
    );
  }

  /**
   * Resolves with the next not-yet-consumed message of `type`, skipping
   * (and consuming) others. Rejects after `timeoutMs`.
   */
  async next<T extends ServerMessage["type"]>(
    type: T,
    timeoutMs = 3000,
  ): Promise<Of<T>> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      while (this.#cursor < this.received.length) {
        const message = this.received[this.#cursor++];
        if (message?.type === type) return message as Of<T>;
      }
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(
          `No "${type}" message within ${timeoutMs} ms; received: ${
            JSON.stringify(this.received.slice(-5))
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /**
   * Resolves once `test` holds, checking after each frame; rejects after
   * `timeoutMs` or when the socket closes first. Consumes nothing.
   */
  async until(
    test: () => boolean,
    what: string,
    timeoutMs = 3000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!test()) {
      const left = deadline - Date.now();
      if (left <= 0 || this.socket.readyState === WebSocket.CLOSED) {
        throw new Error(
          `Not ${what} within ${timeoutMs} ms; received: ${
            JSON.stringify(this.received.slice(-5))
          }`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** All messages of `type` received so far, consumed or not. */
  all<T extends ServerMessage["type"]>(type: T): Of<T>[] {
    return this.received.filter((m): m is Of<T> => m.type === type);
  }

  /** Waits until no message arrives for `quietMs`. */
  async settle(quietMs = 100): Promise<void> {
    let count = -1;
    while (count !== this.received.length) {
      count = this.received.length;
      await new Promise((resolve) => setTimeout(resolve, quietMs));
    }
  }

  async close(): Promise<void> {
    if (this.socket.readyState !== WebSocket.CLOSED) this.socket.close();
    await this.closed;
  }
}
