/**
 * The load generator, run as its own process so its CPU is not the
 * server's. It opens real WebSocket clients (the runtime's own `WebSocket`:
 * Deno's, or Bun's, which receives several times faster) to one URL,
 * makes some of them send at a fixed aggregate rate, and timestamps every
 * delivery on its own clock to measure end-to-end latency and loss.
 *
 * Modes: `chat` speaks the chat protocol (hello → welcome, then `send`);
 * `raw` (for bench/baseline_server.ts) sends the same `send` frames on an
 * open socket and expects them echoed verbatim to everyone.
 *
 * One-shot (prints one JSON report on stdout):
 *
 *   deno run --allow-net=127.0.0.1 --allow-read=/proc bench/load.ts \
 *     --url ws://127.0.0.1:8765/ --mode chat --clients 100 --senders 10 \
 *     --rate 200 --duration 10
 *
 * With `--interactive` it reads commands from stdin, one JSON object a line,
 * and answers each with one JSON line, so bench/run.ts can hold connections
 * open while it measures the server:
 *
 *   {"cmd":"connect","clients":500}             open (and join) up to 500
 *   {"cmd":"send","senders":10,"rate":400,"duration":5}
 *   {"cmd":"storm","clients":3000,"quietMs":500} join storm from zero
 *   {"cmd":"quiet","quietMs":500,"maxMs":10000}  wait for a backlog to end
 *   {"cmd":"close"} / {"cmd":"quit"}
 *
 * Every wait is bounded, and `--timeout` (seconds) ends the whole process.
 * Under Bun: `bun bench/load.ts …` with the same flags (no permissions).
 */

import process from "node:process";
import { parseArgs } from "node:util";

export type Mode = "chat" | "raw";

/** What `send` reports; bench/run.ts reads these fields. */
export interface SendReport {
  event: "send";
  mode: Mode;
  connections: number;
  senders: number;
  targetRate: number;
  durationS: number;
  sent: number;
  /** Sends the server answered with an error (rate limit, …). */
  refused: number;
  /** sent × connections: every member gets every message, sender included. */
  expected: number;
  received: number;
  /** Not received by the end of the drain (no delivery for a while, or its cap). */
  lost: number;
  /** Deliveries of messages from an earlier `send` command. */
  stale: number;
  /** WebSocket frames received: fewer than deliveries when batched. */
  frames: number;
  deliveriesPerSec: number;
  latencyMs: LatencySummary;
  /** How far the send loop fell behind its schedule at worst. */
  scheduleLagMs: number;
  /** Connections that closed during the command. */
  closed: number;
  /** Every close so far not asked for by the generator, by close code. */
  closeCodes: Record<string, number>;
  generatorCpuPct: number;
  wallMs: number;
}

export interface ConnectReport {
  event: "connect";
  mode: Mode;
  connections: number;
  opened: number;
  failed: number;
  ms: number;
  generatorCpuPct: number;
}

export interface StormReport {
  event: "storm";
  mode: Mode;
  clients: number;
  connections: number;
  failed: number;
  /** From the first connect until the last client was open/welcomed. */
  readyMs: number;
  /** From the first connect until the last frame before `quietMs` of quiet. */
  settledMs: number;
  frames: number;
  bytes: number;
  /**
   * Joins announced to clients, summed over clients: one per `joined`,
   * `joinedCount` per `presence` summary.
   */
  joinsAnnounced: number;
  /**
   * N(N+1)/2: what one notice per join to everyone present amounts to (each
   * client hears of itself and of everyone after it), as the baseline does.
   */
  joinsExpected: number;
  closed: number;
  /** Closes not asked for by the generator, by close code; "timeout" for connects. */
  closeCodes: Record<string, number>;
  timedOut: boolean;
  generatorCpuPct: number;
  /** From creating a client's socket to its open event (the handshake). */
  openMs?: LatencySummary;
  /** From a client's hello to its welcome (chat mode). */
  helloToWelcomeMs?: LatencySummary;
}

export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Latency histogram: 20 µs buckets to 100 ms, 1 ms buckets to 120 s. Fixed
 * memory however many deliveries a run has; percentiles are exact to the
 * bucket width, the maximum exactly.
 */
class Histogram {
  static readonly FINE_MS = 0.02;
  static readonly FINE_LIMIT_MS = 100;
  static readonly COARSE_LIMIT_MS = 120_000;
  #fine = new Uint32Array(Histogram.FINE_LIMIT_MS / Histogram.FINE_MS);
  #coarse = new Uint32Array(Histogram.COARSE_LIMIT_MS);
  count = 0;
  #sum = 0;
  max = 0;

  record(ms: number): void {
    const value = Math.max(0, ms);
    this.count++;
    this.#sum += value;
    if (value > this.max) this.max = value;
    if (value < Histogram.FINE_LIMIT_MS) {
      this.#fine[Math.floor(value / Histogram.FINE_MS)]!++;
    } else {
      this.#coarse[Math.min(this.#coarse.length - 1, Math.floor(value))]!++;
    }
  }

  /** Upper edge of the bucket holding the p-th percentile. */
  percentile(p: number): number {
    if (this.count === 0) return 0;
    const rank = Math.ceil((p / 100) * this.count);
    let seen = 0;
    for (let i = 0; i < this.#fine.length; i++) {
      seen += this.#fine[i]!;
      if (seen >= rank) return Math.min(this.max, (i + 1) * Histogram.FINE_MS);
    }
    for (let i = Histogram.FINE_LIMIT_MS; i < this.#coarse.length; i++) {
      seen += this.#coarse[i]!;
      if (seen >= rank) return Math.min(this.max, i + 1);
    }
    return this.max;
  }

  summary(): LatencySummary {
    const round = (n: number) => Math.round(n * 100) / 100;
    return {
      count: this.count,
      mean: round(this.count ? this.#sum / this.count : 0),
      p50: round(this.percentile(50)),
      p95: round(this.percentile(95)),
      p99: round(this.percentile(99)),
      max: round(this.max),
    };
  }
}

/**
 * utime + stime of this process in seconds: the figures /proc/self/stat
 * holds, read through getrusage because Deno guards /proc/self behind
 * --allow-all.
 */
function cpuSeconds(): number {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/** CPU% of this process between `start()` and `stop()`. */
function cpuMeter(): () => number {
  const cpu0 = cpuSeconds();
  const t0 = performance.now();
  return () => {
    const wall = (performance.now() - t0) / 1000;
    if (wall <= 0) return 0;
    return Math.round(((cpuSeconds() - cpu0) / wall) * 1000) / 10;
  };
}

/** The generator's clock: milliseconds, monotonic, comparable across its clients. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

type Fields = Record<string, unknown>;

function isObject(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Silence after which a join storm's missing notices count as lost. */
const GIVE_UP_QUIET_MS = 5_000;

/**
 * Message text: `bench:<run>:<n>:<send time, ms>`. The run number tells a
 * late delivery from an earlier `send` command apart from the current one.
 */
const MARKER = "bench:";
const CHAT_PREFIX = '{"type":"chat"';
const SEND_PREFIX = '{"type":"send"';
const BATCH_PREFIX = '{"type":"batch"';
const PRESENCE_TYPE = '"type":"presence"';
const JOINED_TYPE = '"type":"joined"';

interface Client {
  index: number;
  socket: WebSocket;
  ready: boolean;
  closed: boolean;
  /** Resolves once open (raw) or welcomed (chat); rejects on close/error first. */
  whenReady: Promise<void>;
}

interface Counters {
  frames: number;
  bytes: number;
  lastFrameAt: number;
  /** Joins announced: `joined` events and `presence` summaries' counts. */
  joins: number;
  acks: number;
  errors: number;
  closed: number;
  closeCodes: Record<string, number>;
  /** Deliveries of the current run. */
  received: number;
  stale: number;
  lastDeliveryAt: number;
  /** When the last client became open (raw) or welcomed (chat). */
  lastReadyAt: number;
}

export interface GeneratorOptions {
  url: string;
  mode: Mode;
  /** Clients per room (chat); all in one room when undefined. */
  roomSize?: number;
  room: string;
  /** Connection attempts in flight at once. */
  concurrency: number;
  /** Per-connection limit for open + welcome. */
  connectTimeoutMs: number;
}

/** Holds the clients and counts everything they receive. */
class Generator {
  readonly options: GeneratorOptions;
  #clients: Client[] = [];
  #nextIndex = 0;
  #run = 0;
  #histogram = new Histogram();
  /** Per client of the current storm: handshake, and hello to welcome. */
  #openTimes = new Histogram();
  #welcomeTimes = new Histogram();
  counters: Counters = Generator.#zero();

  constructor(options: GeneratorOptions) {
    this.options = options;
  }

  static #zero(): Counters {
    return {
      frames: 0,
      bytes: 0,
      lastFrameAt: 0,
      joins: 0,
      acks: 0,
      errors: 0,
      closed: 0,
      closeCodes: {},
      received: 0,
      stale: 0,
      lastDeliveryAt: 0,
      lastReadyAt: 0,
    };
  }

  get live(): Client[] {
    return this.#clients.filter((c) => c.ready && !c.closed);
  }

  #roomOf(index: number): string {
    const size = this.options.roomSize;
    return size
      ? `${this.options.room}-${Math.floor(index / size)}`
      : this.options.room;
  }

  #open(): Client {
    const index = this.#nextIndex++;
    // Several URLs (comma-separated): clients take them in turn, so with
    // instances of one cluster senders and receivers are on each.
    const urls = this.options.url.split(",");
    const socket = new WebSocket(urls[index % urls.length] ?? "");
    let resolveReady = () => {};
    let rejectReady = (_: Error) => {};
    const whenReady = new Promise<void>((resolve, reject) => {
      resolveReady = resolve;
      rejectReady = reject;
    });
    // Nobody may be awaiting yet; a rejection must not be "unhandled".
    whenReady.catch(() => {});
    const client: Client = {
      index,
      socket,
      ready: false,
      closed: false,
      whenReady,
    };
    const createdAt = now();
    let helloAt = 0;
    const markReady = () => {
      if (client.ready) return;
      client.ready = true;
      const at = now();
      this.counters.lastReadyAt = at;
      if (helloAt > 0) this.#welcomeTimes.record(at - helloAt);
      resolveReady();
    };
    socket.onopen = () => {
      helloAt = now();
      this.#openTimes.record(helloAt - createdAt);
      if (this.options.mode === "chat") {
        socket.send(
          JSON.stringify({ type: "hello", room: this.#roomOf(index) }),
        );
      } else {
        markReady();
      }
    };
    socket.onmessage = (event: MessageEvent<unknown>) => {
      if (typeof event.data === "string") this.#frame(event.data, markReady);
    };
    socket.onclose = (event) => {
      if (!client.closed) {
        if (client.ready) this.counters.closed++;
        const codes = this.counters.closeCodes;
        codes[event.code] = (codes[event.code] ?? 0) + 1;
      }
      client.closed = true;
      rejectReady(new Error(`Closed (${event.code}) before ready`));
    };
    socket.onerror = () => {};
    this.#clients.push(client);
    return client;
  }

  #frame(frame: string, markReady: () => void): void {
    const at = now();
    const counters = this.counters;
    counters.frames++;
    counters.bytes += frame.length;
    counters.lastFrameAt = at;
    // The bulk of a run is chat deliveries, and parsing each as JSON would
    // make the generator, not the server, the limit. Their texts are found
    // by scanning instead; anything else (welcome, presence, ack, error)
    // is parsed. Frames start with their type: the chat serialises `type`
    // first, batches are spliced as `{"type":"batch",...`.
    if (
      frame.startsWith(CHAT_PREFIX) || frame.startsWith(SEND_PREFIX) ||
      (frame.startsWith(BATCH_PREFIX) && !frame.includes(PRESENCE_TYPE) &&
        !frame.includes(JOINED_TYPE))
    ) {
      this.#scanDeliveries(frame, at);
      return;
    }
    let data: unknown;
    try {
      data = JSON.parse(frame);
    } catch {
      return;
    }
    if (!isObject(data)) return;
    // A coalesced frame carries several messages; each counts on its own.
    if (data["type"] === "batch" && Array.isArray(data["messages"])) {
      for (const message of data["messages"]) {
        if (isObject(message)) this.#message(message, at, markReady);
      }
    } else {
      this.#message(data, at, markReady);
    }
  }

  #message(message: Fields, at: number, markReady: () => void): void {
    const counters = this.counters;
    switch (message["type"]) {
      case "welcome":
        markReady();
        return;
      case "joined":
        counters.joins++;
        return;
      case "presence": {
        // A crowd's joins, summarised in one event.
        const count = message["joinedCount"];
        if (typeof count === "number") counters.joins += count;
        return;
      }
      case "ack":
        counters.acks++;
        return;
      case "error":
        counters.errors++;
        return;
      case "chat": {
        const chat = message["message"];
        if (isObject(chat) && typeof chat["text"] === "string") {
          this.#delivery(chat["text"], at);
        }
        return;
      }
      case "send":
        // Raw mode: the baseline echoes our own frame.
        if (typeof message["text"] === "string") {
          this.#delivery(message["text"], at);
        }
        return;
    }
  }

  /** Every `bench:<run>:<n>:<time>` text in `frame` is one delivery. */
  #scanDeliveries(frame: string, at: number): void {
    for (
      let i = frame.indexOf(MARKER);
      i >= 0;
      i = frame.indexOf(MARKER, i + MARKER.length)
    ) {
      const runEnd = frame.indexOf(":", i + MARKER.length);
      const countEnd = frame.indexOf(":", runEnd + 1);
      const timeEnd = frame.indexOf('"', countEnd + 1);
      if (runEnd < 0 || countEnd < 0 || timeEnd < 0) return;
      this.#record(
        Number(frame.slice(i + MARKER.length, runEnd)),
        Number(frame.slice(countEnd + 1, timeEnd)),
        at,
      );
    }
  }

  /** A delivery found in a parsed message's text. */
  #delivery(text: string, at: number): void {
    if (!text.startsWith(MARKER)) return;
    const parts = text.split(":");
    this.#record(Number(parts[1]), Number(parts[3]), at);
  }

  /** Counts a delivery of a message of `run` sent at `sentAt`. */
  #record(run: number, sentAt: number, at: number): void {
    if (run !== this.#run) {
      this.counters.stale++;
      return;
    }
    this.counters.received++;
    this.counters.lastDeliveryAt = at;
    this.#histogram.record(at - sentAt);
  }

  /** Resolves once no frame has arrived for `quietMs`, or after `maxMs`. */
  async quiet(quietMs: number, maxMs: number): Promise<boolean> {
    const deadline = performance.now() + maxMs;
    while (performance.now() < deadline) {
      const since = now() - this.counters.lastFrameAt;
      if (since >= quietMs) return true;
      await sleep(Math.min(50, quietMs - since + 1));
    }
    return false;
  }

  /**
   * Opens clients until `target` are ready, at most `concurrency` attempts in
   * flight, then waits for `settleMs` of quiet so the last joins' notices
   * are not counted in whatever is timed next.
   */
  async connect(
    target: number,
    concurrency = this.options.concurrency,
    settleMs = 300,
    timeoutMs = this.options.connectTimeoutMs,
  ): Promise<ConnectReport> {
    const cpu = cpuMeter();
    const t0 = performance.now();
    const missing = Math.max(0, target - this.live.length);
    let opened = 0;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < missing) {
        next++;
        const client = this.#open();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error("Timed out")),
            timeoutMs,
          );
        });
        try {
          await Promise.race([client.whenReady, timeout]);
          opened++;
        } catch {
          failed++;
          if (!client.closed) {
            const codes = this.counters.closeCodes;
            codes["timeout"] = (codes["timeout"] ?? 0) + 1;
          }
          client.closed = true;
          try {
            client.socket.close();
          } catch {
            // Never opened.
          }
        } finally {
          clearTimeout(timer);
        }
      }
    };
    const workers = Math.min(concurrency, missing);
    await Promise.all(Array.from({ length: workers }, worker));
    if (settleMs > 0) await this.quiet(settleMs, 10_000);
    return {
      event: "connect",
      mode: this.options.mode,
      connections: this.live.length,
      opened,
      failed,
      ms: Math.round(performance.now() - t0),
      generatorCpuPct: cpu(),
    };
  }

  /**
   * `senders` of the live clients send `rate` messages a second in all for
   * `durationS`; then waits until every delivery arrived or none has for
   * `drainQuietMs` (at most `drainMaxMs`).
   */
  async send(
    senders: number,
    rate: number,
    durationS: number,
    drainQuietMs = 1_000,
    drainMaxMs = 10_000,
  ): Promise<SendReport> {
    const run = ++this.#run;
    this.#histogram = new Histogram();
    const closedBefore = this.counters.closed;
    const errorsBefore = this.counters.errors;
    this.counters.received = 0;
    this.counters.stale = 0;
    const live = this.live;
    const connections = live.length;
    const from = live.slice(0, Math.min(senders, live.length));
    const cpu = cpuMeter();
    const t0 = performance.now();
    const firstSendAt = now();
    const framesBefore = this.counters.frames;
    const total = Math.round(rate * durationS);
    let sent = 0;
    let lag = 0;
    while (from.length > 0 && sent < total) {
      const elapsed = performance.now() - t0;
      const due = Math.min(total, Math.floor((rate * elapsed) / 1000));
      if (due > sent) lag = Math.max(lag, elapsed - (sent * 1000) / rate);
      while (sent < due) {
        const client = from[sent % from.length]!;
        const id = `${run}.${sent}`;
        const text = `${MARKER}${run}:${sent}:${now()}`;
        if (!client.closed) {
          client.socket.send(JSON.stringify({ type: "send", id, text }));
        }
        sent++;
      }
      const nextDueMs = ((sent + 1) * 1000) / rate - elapsed;
      await sleep(Math.max(1, Math.min(5, nextDueMs)));
    }
    const expected = sent * connections;
    const drainStart = performance.now();
    while (performance.now() - drainStart < drainMaxMs) {
      if (this.counters.received >= expected) break;
      const lastAt = Math.max(this.counters.lastDeliveryAt, firstSendAt);
      if (now() - lastAt >= drainQuietMs) break;
      await sleep(20);
    }
    const received = this.counters.received;
    const span = (Math.max(this.counters.lastDeliveryAt, firstSendAt + 1) -
      firstSendAt) / 1000;
    return {
      event: "send",
      mode: this.options.mode,
      connections,
      senders: from.length,
      targetRate: rate,
      durationS,
      sent,
      refused: this.counters.errors - errorsBefore,
      expected,
      received,
      lost: Math.max(0, expected - received),
      stale: this.counters.stale,
      frames: this.counters.frames - framesBefore,
      deliveriesPerSec: Math.round(received / span),
      latencyMs: this.#histogram.summary(),
      scheduleLagMs: Math.round(lag * 10) / 10,
      closed: this.counters.closed - closedBefore,
      closeCodes: { ...this.counters.closeCodes },
      generatorCpuPct: cpu(),
      wallMs: Math.round(performance.now() - t0),
    };
  }

  /**
   * A join storm from zero: `clients` connect with up to `concurrency` in
   * flight; timed until all are ready, and until no frame has arrived for
   * `quietMs`. Everything is bounded by `maxMs`.
   */
  async storm(
    clients: number,
    concurrency: number,
    quietMs: number,
    maxMs: number,
  ): Promise<StormReport> {
    this.counters = Generator.#zero();
    this.#openTimes = new Histogram();
    this.#welcomeTimes = new Histogram();
    const cpu = cpuMeter();
    const t0 = now();
    const deadline = performance.now() + maxMs;
    // Everyone may wait as long as the storm may last.
    const connect = this.connect(clients, concurrency, 0, maxMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const report = await Promise.race([
      connect,
      new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), maxMs);
      }),
    ]);
    clearTimeout(timer);
    const expected = (clients * (clients + 1)) / 2;
    let settled = false;
    while (performance.now() < deadline) {
      const quiet = await this.quiet(
        quietMs,
        Math.max(0, deadline - performance.now()),
      );
      if (!quiet) break;
      // The baseline can pause (collecting garbage) with notices still to
      // send, and its count is known: its quiet counts once every notice is
      // in, or after a long silence. The chat summarises joins, so for it
      // quiet alone is the end.
      if (
        this.options.mode === "chat" ||
        this.counters.joins >= expected ||
        now() - this.counters.lastFrameAt >= GIVE_UP_QUIET_MS
      ) {
        settled = true;
        break;
      }
      await sleep(50);
    }
    const { counters } = this;
    return {
      event: "storm",
      mode: this.options.mode,
      clients,
      connections: this.live.length,
      failed: report?.failed ?? clients - this.live.length,
      // Nobody ready (every connection refused): the whole limit, not 0 − t0.
      readyMs: Math.round(
        report && counters.lastReadyAt > 0 ? counters.lastReadyAt - t0 : maxMs,
      ),
      settledMs: Math.round(Math.max(0, counters.lastFrameAt - t0)),
      frames: counters.frames,
      bytes: counters.bytes,
      joinsAnnounced: counters.joins,
      joinsExpected: expected,
      closed: counters.closed,
      closeCodes: counters.closeCodes,
      timedOut: report === null || !settled,
      generatorCpuPct: cpu(),
      openMs: this.#openTimes.summary(),
      ...(this.options.mode === "chat"
        ? { helloToWelcomeMs: this.#welcomeTimes.summary() }
        : {}),
    };
  }

  close(): number {
    let count = 0;
    for (const client of this.#clients) {
      if (client.closed) continue;
      client.closed = true;
      count++;
      try {
        client.socket.close(1000, "Bench done");
      } catch {
        // Not yet open.
      }
    }
    this.#clients = [];
    return count;
  }
}

/** A command read from stdin in `--interactive` mode. */
type Command =
  | { cmd: "connect"; clients: number; concurrency?: number }
  | {
    cmd: "send";
    senders: number;
    rate: number;
    duration: number;
    drainQuietMs?: number;
    drainMaxMs?: number;
  }
  | {
    cmd: "storm";
    clients: number;
    concurrency?: number;
    quietMs?: number;
    maxMs?: number;
  }
  | { cmd: "quiet"; quietMs: number; maxMs: number }
  | { cmd: "close" }
  | { cmd: "quit" };

function positive(fields: Fields, key: string, optional = false): number {
  const value = fields[key];
  if (value === undefined && optional) return NaN;
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`Field "${key}" must be a positive number`);
  }
  return value;
}

function optionalPositive(fields: Fields, key: string): number | undefined {
  const value = positive(fields, key, true);
  return Number.isNaN(value) ? undefined : value;
}

/** Validates one stdin line into a `Command`; throws with the reason. */
export function parseCommand(line: string): Command {
  const data: unknown = JSON.parse(line);
  if (!isObject(data)) throw new TypeError("Command must be a JSON object");
  switch (data["cmd"]) {
    case "connect":
      return {
        cmd: "connect",
        clients: positive(data, "clients"),
        concurrency: optionalPositive(data, "concurrency"),
      };
    case "send":
      return {
        cmd: "send",
        senders: positive(data, "senders"),
        rate: positive(data, "rate"),
        duration: positive(data, "duration"),
        drainQuietMs: optionalPositive(data, "drainQuietMs"),
        drainMaxMs: optionalPositive(data, "drainMaxMs"),
      };
    case "storm":
      return {
        cmd: "storm",
        clients: positive(data, "clients"),
        concurrency: optionalPositive(data, "concurrency"),
        quietMs: optionalPositive(data, "quietMs"),
        maxMs: optionalPositive(data, "maxMs"),
      };
    case "quiet":
      return {
        cmd: "quiet",
        quietMs: positive(data, "quietMs"),
        maxMs: positive(data, "maxMs"),
      };
    case "close":
    case "quit":
      return { cmd: data["cmd"] };
    default:
      throw new TypeError(`Unknown command ${JSON.stringify(data["cmd"])}`);
  }
}

async function execute(
  generator: Generator,
  command: Command,
): Promise<object | null> {
  switch (command.cmd) {
    case "connect":
      return await generator.connect(command.clients, command.concurrency);
    case "send":
      return await generator.send(
        command.senders,
        command.rate,
        command.duration,
        command.drainQuietMs,
        command.drainMaxMs,
      );
    case "storm":
      return await generator.storm(
        command.clients,
        command.concurrency ?? command.clients,
        command.quietMs ?? 500,
        command.maxMs ?? 60_000,
      );
    case "quiet":
      return {
        event: "quiet",
        quiet: await generator.quiet(command.quietMs, command.maxMs),
        connections: generator.live.length,
      };
    case "close":
      return { event: "closed", connections: generator.close() };
    case "quit":
      return null;
  }
}

/**
 * Yields stdin one line at a time. Through node:process, like the
 * arguments and the exit: the same file runs under Deno and under Bun.
 */
async function* lines(): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = "";
  for await (
    const chunk of process.stdin
  ) {
    buffer += typeof chunk === "string"
      ? chunk
      : decoder.decode(chunk as Uint8Array, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      yield buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
    }
  }
  if (buffer) yield buffer;
}

function emit(value: object): void {
  console.log(JSON.stringify(value));
}

const HELP =
  `Usage: deno run --allow-net=127.0.0.1 --allow-read=/proc bench/load.ts [flags]

  --url URL            WebSocket URL (default ws://127.0.0.1:8765/)
  --mode chat|raw      chat protocol, or raw frames for the baseline (default chat)
  --room NAME          room to join (default bench)
  --room-size N        put N clients in each room NAME-0, NAME-1, … (default: one room)
  --concurrency N      connection attempts in flight at once (default 200)
  --clients N          clients to connect (default 100)
  --senders N          clients that send (default 10)
  --rate N             messages per second, all senders together (default 200)
  --duration S         seconds of sending (default 10)
  --timeout S          hard limit on the whole process (default 300)
  --interactive        read JSON commands from stdin instead (see the file's header)
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      url: { type: "string", default: "ws://127.0.0.1:8765/" },
      mode: { type: "string", default: "chat" },
      room: { type: "string", default: "bench" },
      "room-size": { type: "string" },
      concurrency: { type: "string", default: "200" },
      clients: { type: "string", default: "100" },
      senders: { type: "string", default: "10" },
      rate: { type: "string", default: "200" },
      duration: { type: "string", default: "10" },
      timeout: { type: "string", default: "300" },
      interactive: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    return;
  }
  const mode = values.mode;
  if (mode !== "chat" && mode !== "raw") {
    throw new RangeError(`Mode "${mode}" is not valid: use chat or raw`);
  }
  const number = (flag: string, text: string): number => {
    const value = Number(text);
    if (!(value > 0) || !Number.isFinite(value)) {
      throw new RangeError(`--${flag} "${text}" must be a positive number`);
    }
    return value;
  };
  const timeoutS = number("timeout", values.timeout);
  const hardStop = setTimeout(() => {
    emit({ event: "error", message: `Hard timeout of ${timeoutS} s reached` });
    process.exit(2);
  }, timeoutS * 1000);
  const generator = new Generator({
    url: values.url,
    mode,
    room: values.room,
    roomSize: values["room-size"] === undefined
      ? undefined
      : number("room-size", values["room-size"]),
    concurrency: number("concurrency", values.concurrency),
    connectTimeoutMs: 15_000,
  });

  if (values.interactive) {
    emit({ event: "started" });
    for await (const line of lines()) {
      if (!line.trim()) continue;
      let command: Command;
      try {
        command = parseCommand(line);
      } catch (error) {
        emit({ event: "error", message: String(error) });
        continue;
      }
      const result = await execute(generator, command);
      if (result === null) break;
      emit(result);
    }
  } else {
    const connected = await generator.connect(
      number("clients", values.clients),
    );
    const report = await generator.send(
      number("senders", values.senders),
      number("rate", values.rate),
      number("duration", values.duration),
    );
    emit({ ...report, connect: connected });
  }
  clearTimeout(hardStop);
  generator.close();
  // Sockets still closing must not keep the process (and the bench) waiting.
  process.exit(0);
}

if (import.meta.main) await main();
