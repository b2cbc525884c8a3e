/**
 * A deliberately low-level WebSocket client over `node:net`, for tests that
 * must send what a well-behaved client never would: any FIN/RSV/opcode bits,
 * unmasked frames, lengths that lie. The HTTP handshake is written by hand
 * too, so refused upgrades (403, 426, 429) are seen exactly as sent. It never
 * answers pings or close frames by itself: a test decides what a peer does.
 */

import { Buffer } from "node:buffer";
import { createHash, randomBytes } from "node:crypto";
import net from "node:net";

export const OPCODE = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xA,
} as const;

const WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

export interface FrameOptions {
  opcode: number;
  payload?: Uint8Array | string;
  /** Final fragment; default true. */
  fin?: boolean;
  /** The three RSV bits as a number 0–7 (RSV1 = 4); default 0. */
  rsv?: number;
  /** Clients must mask (RFC 6455 §5.1); default true. */
  mask?: boolean;
  /** Payload length to announce when it should differ from the real one. */
  announcedLength?: number;
}

/** Builds one frame byte by byte, with 7-, 16- or 64-bit lengths. */
export function encodeFrame(options: FrameOptions): Uint8Array {
  const payload = typeof options.payload === "string"
    ? new TextEncoder().encode(options.payload)
    : options.payload ?? new Uint8Array();
  const length = options.announcedLength ?? payload.length;
  const masked = options.mask ?? true;
  const head: number[] = [
    ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) & 7) << 4 |
    (options.opcode & 0xF),
  ];
  const maskBit = masked ? 0x80 : 0;
  if (length < 126) {
    head.push(maskBit | length);
  } else if (length <= 0xFFFF) {
    head.push(maskBit | 126, length >> 8, length & 0xFF);
  } else {
    head.push(maskBit | 127);
    const big = BigInt(length);
    for (let shift = 56n; shift >= 0n; shift -= 8n) {
      head.push(Number((big >> shift) & 0xFFn));
    }
  }
  const key = masked ? randomBytes(4) : new Uint8Array();
  const frame = new Uint8Array(head.length + key.length + payload.length);
  frame.set(head);
  frame.set(key, head.length);
  const start = head.length + key.length;
  for (let i = 0; i < payload.length; i++) {
    frame[start + i] = payload[i]! ^ (masked ? key[i % 4]! : 0);
  }
  return frame;
}

/** A close frame's payload: a 2-byte code, then a UTF-8 reason. */
export function closePayload(code: number, reason = ""): Uint8Array {
  const text = new TextEncoder().encode(reason);
  return Uint8Array.from([code >> 8, code & 0xFF, ...text]);
}

export interface ServerFrame {
  fin: boolean;
  opcode: number;
  payload: Uint8Array;
}

export interface Ending {
  /** Milliseconds from `RawWebSocket.open` until the socket closed. */
  at: number;
  /** The server half-closed (FIN) before the socket closed. */
  ended: boolean;
  /** Error code such as ECONNRESET, if the socket failed. */
  error: string | null;
}

export interface UpgradeOptions {
  path?: string;
  /** Extra or replacing request headers; `null` drops a default one. */
  headers?: Record<string, string | null>;
}

/**
 * One TCP connection that starts with a hand-written upgrade request. After
 * a 101 it parses server frames; after any other status it holds the body.
 */
export class RawWebSocket {
  readonly socket: net.Socket;
  status = 0;
  readonly headers = new Map<string, string>();
  body = "";
  readonly frames: ServerFrame[] = [];
  /** Resolves when the socket has closed, however that happened. */
  readonly closed: Promise<Ending>;
  #buffer = Buffer.alloc(0);
  #headDone = false;
  #bodyLength = 0;
  #start = Date.now();
  #ended = false;
  #error: string | null = null;
  #isClosed = false;
  #wake: (() => void)[] = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#parse();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (error: Error & { code?: string }) => {
      this.#error = error.code ?? error.message;
    });
    this.closed = new Promise((resolve) => {
      socket.on("close", () => {
        this.#isClosed = true;
        resolve({
          at: Date.now() - this.#start,
          ended: this.#ended,
          error: this.#error,
        });
        this.#notify();
      });
    });
  }

  /**
   * Connects to 127.0.0.1:`port` and sends an upgrade request; resolves once
   * the response head (and, for a refusal, its body) has arrived.
   */
  static async open(
    port: number,
    options: UpgradeOptions = {},
  ): Promise<RawWebSocket> {
    const socket = net.connect({ host: "127.0.0.1", port });
    const raw = new RawWebSocket(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("connect", resolve);
      socket.once("error", reject);
    });
    const key = randomBytes(16).toString("base64");
    const defaults: Record<string, string | null> = {
      "Host": `127.0.0.1:${port}`,
      "Upgrade": "websocket",
      "Connection": "Upgrade",
      "Sec-WebSocket-Key": key,
      "Sec-WebSocket-Version": "13",
    };
    const headers = { ...defaults, ...options.headers };
    const lines = [`GET ${options.path ?? "/ws"} HTTP/1.1`];
    for (const [name, value] of Object.entries(headers)) {
      if (value !== null) lines.push(`${name}: ${value}`);
    }
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    await raw.#until(
      () =>
        raw.#headDone &&
        (raw.status === 101 || raw.body.length >= raw.#bodyLength),
      3000,
      "the upgrade response",
    );
    if (raw.status === 101) {
      const expected = createHash("sha1").update(key + WS_GUID).digest(
        "base64",
      );
      if (raw.headers.get("sec-websocket-accept") !== expected) {
        throw new Error("Server sent a wrong Sec-WebSocket-Accept");
      }
    }
    return raw;
  }

  #notify(): void {
    for (const wake of this.#wake.splice(0)) wake();
  }

  /** Waits until `done()` holds; throws on timeout or an early close. */
  async #until(done: () => boolean, timeoutMs: number, what: string) {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`No ${what} within ${timeoutMs} ms`);
      if (this.#isClosed) {
        throw new Error(`Socket closed before ${what}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  #parse(): void {
    if (!this.#headDone) {
      const end = this.#buffer.indexOf("\r\n\r\n");
      if (end < 0) return;
      const [statusLine, ...lines] = this.#buffer.subarray(0, end).toString(
        "latin1",
      ).split("\r\n");
      this.status = Number(statusLine?.split(" ")[1]);
      for (const line of lines) {
        const colon = line.indexOf(":");
        this.headers.set(
          line.slice(0, colon).trim().toLowerCase(),
          line.slice(colon + 1).trim(),
        );
      }
      this.#bodyLength = Number(this.headers.get("content-length") ?? 0);
      this.#buffer = this.#buffer.subarray(end + 4);
      this.#headDone = true;
    }
    if (this.status !== 101) {
      this.body += this.#buffer.toString("utf8");
      this.#buffer = Buffer.alloc(0);
      return;
    }
    while (this.#buffer.length >= 2) {
      const b0 = this.#buffer[0]!;
      const b1 = this.#buffer[1]!;
      let length = b1 & 0x7F;
      let offset = 2;
      if (length === 126) {
        if (this.#buffer.length < 4) return;
        length = this.#buffer.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (this.#buffer.length < 10) return;
        length = Number(this.#buffer.readBigUInt64BE(2));
        offset = 10;
      }
      // Servers never mask (RFC 6455 §5.1), but skip a key if one is there.
      if (b1 & 0x80) offset += 4;
      if (this.#buffer.length < offset + length) return;
      this.frames.push({
        fin: (b0 & 0x80) !== 0,
        opcode: b0 & 0x0F,
        payload: new Uint8Array(
          this.#buffer.subarray(offset, offset + length),
        ),
      });
      this.#buffer = this.#buffer.subarray(offset + length);
    }
  }

  send(frame: FrameOptions): void {
    this.socket.write(encodeFrame(frame));
  }

  /** Writes bytes as they are, e.g. a frame header with no payload. */
  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  /** A masked text frame holding `message` as JSON. */
  sendJson(message: unknown): void {
    this.send({ opcode: OPCODE.text, payload: JSON.stringify(message) });
  }

  /** Text frames parsed as JSON, in arrival order, batches unwrapped. */
  messages(): Record<string, unknown>[] {
    return this.frames.filter((f) => f.opcode === OPCODE.text).flatMap((f) => {
      const message = JSON.parse(new TextDecoder().decode(f.payload));
      return message.type === "batch" ? message.messages : [message];
    });
  }

  /** Waits for a text frame whose JSON `type` is `type`. */
  async nextMessage(
    type: string,
    timeoutMs = 3000,
  ): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    await this.#until(
      () => {
        found = this.messages().find((m) => m["type"] === type);
        return found !== undefined;
      },
      timeoutMs,
      `"${type}" message`,
    );
    return found!;
  }

  /** The first close frame the server sent, if any: its code and reason. */
  closeFrame(): { code: number | null; reason: string } | null {
    const frame = this.frames.find((f) => f.opcode === OPCODE.close);
    if (!frame) return null;
    const p = frame.payload;
    return {
      code: p.length >= 2 ? (p[0]! << 8) | p[1]! : null,
      reason: new TextDecoder().decode(p.subarray(2)),
    };
  }

  /** Waits for the server's close frame. */
  async nextClose(
    timeoutMs = 3000,
  ): Promise<{ code: number | null; reason: string }> {
    await this.#until(
      () => this.closeFrame() !== null,
      timeoutMs,
      "close frame",
    );
    return this.closeFrame()!;
  }

  /**
   * Resolves with how the socket ended, or null if it is still open after
   * `timeoutMs`.
   */
  async endedWithin(timeoutMs: number): Promise<Ending | null> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tears the TCP connection down and waits until it has closed. */
  async destroy(): Promise<Ending> {
    this.socket.destroy();
    return await this.closed;
  }
}
