/**
 * `deno task soak`: a long steady load against the real server as a child
 * process, to catch what short tests cannot: slow leaks, dropped sockets,
 * lost or reordered messages, latency creeping up.
 *
 * The server runs with its real defaults (SQLite in a temporary data dir,
 * 1 msg/s per user with a burst of 10, 5 ms batching); only the connection
 * caps are raised, since every client here comes from 127.0.0.1. Into one
 * room go a few observers, the senders (1 msg/s each, staggered) and the
 * idle clients, which stay joined and say nothing.
 *
 * Pass criteria, checked at the end:
 *   - no unexpected close of any client, and every client joined;
 *   - no sequence gap at any observer: every seq from its first to its last;
 *   - every acknowledged message reached every observer, none refused;
 *   - p99 end-to-end latency (send → observer, one clock) below 100 ms;
 *   - server RSS (VmRSS) after the warm-up grows by less than 10 %.
 *
 * Warm-up is the first minute, or the first 20 % for runs shorter than three
 * minutes. RSS is compared as the median of the last five one-second samples
 * of the warm-up against the median of the run's last five.
 *
 *   deno run --allow-all bench/soak.ts [--minutes 10] [--idle 1000]
 *     [--senders 50] [--observers 3]
 *
 * Prints the figures, then one `SOAK_RESULT {json}` line, and exits 1 if a
 * criterion failed. --allow-all because Deno guards /proc/PID/status.
 */

import { parseArgs } from "node:util";
import { parseServerFrame, type ServerMessage } from "../protocol/messages.ts";
import { serverCommand, spawnChat } from "../tests/process.ts";

export const P99_LIMIT_MS = 100;
export const RSS_GROWTH_LIMIT_PCT = 10;
const ROOM = "main";
/** Joins in flight at once while the room fills up. */
const JOIN_CONCURRENCY = 50;
const JOIN_TIMEOUT_MS = 15_000;
/** After the last send, how long observers may take to catch up. */
const DRAIN_MS = 5_000;
const RSS_SAMPLE_MS = 1_000;
const RSS_MEDIAN_SAMPLES = 5;
/** On top of the run itself, for setup and teardown; then the run fails. */
const OVERRUN_MS = 180_000;
const MARKER = "soak:";

export interface SoakOptions {
  minutes: number;
  idle: number;
  senders: number;
  observers: number;
}

export interface SoakReport {
  options: SoakOptions;
  passed: boolean;
  failures: string[];
  serverPid: number;
  joinMs: number;
  joinFailures: number;
  runSeconds: number;
  warmupSeconds: number;
  sent: number;
  acked: number;
  refused: number;
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
  observers: {
    firstSeq: number;
    lastSeq: number;
    seen: number;
    gaps: number;
    outOfOrder: number;
    missingAcked: number;
  }[];
  latencyMs: { count: number; p50: number; p99: number; max: number };
  rss: {
    baselineKb: number;
    endKb: number;
    peakKb: number;
    growthPct: number;
    samples: number;
  };
  /** During the run: % of one CPU per process, % of all CPUs machine-wide. */
  cpu: {
    cpus: number;
    serverPct: number | null;
    driverPct: number | null;
    machineBusyPct: number | null;
  };
  serverExit: number | null;
}

/** One clock for send and delivery times: this process's, in milliseconds. */
function now(): number {
  return performance.timeOrigin + performance.now();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? 0;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? 0;
}

function round(n: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(n * scale) / scale;
}

/** VmRSS of `pid` in kB, or null once the process is gone. */
function vmRssKb(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] ? Number(match[1]) : null;
  } catch {
    return null;
  }
}

/** utime + stime of `pid` ("self" for this process) in clock ticks. */
function processTicks(pid: number | "self"): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Fields after the parenthesised command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Busy and total ticks of the whole machine, from /proc/stat. */
function machineTicks(): { busy: number; total: number } | null {
  try {
    const line = Deno.readTextFileSync("/proc/stat").split("\n")[0] ?? "";
    const ticks = line.trim().split(/\s+/).slice(1).map(Number);
    const total = ticks.reduce((a, b) => a + b, 0);
    // idle and iowait are the 4th and 5th columns.
    return { busy: total - (ticks[3] ?? 0) - (ticks[4] ?? 0), total };
  } catch {
    return null;
  }
}

interface CpuSnapshot {
  server: number | null;
  driver: number | null;
  machine: { busy: number; total: number } | null;
}

function cpuSnapshot(serverPid: number): CpuSnapshot {
  return {
    server: processTicks(serverPid),
    driver: processTicks("self"),
    machine: machineTicks(),
  };
}

/**
 * CPU use between two snapshots, as % of one CPU for the processes and of
 * the whole machine for `machineBusyPct`. What neither process accounts for
 * (other programs, and the kernel's loopback work) shows as the difference:
 * a latency failure on a machine busy with something else is worth knowing.
 */
function cpuUse(a: CpuSnapshot, b: CpuSnapshot): SoakReport["cpu"] {
  const total = a.machine && b.machine ? b.machine.total - a.machine.total : 0;
  const cpus = navigator.hardwareConcurrency || 1;
  // /proc/stat totals add up every CPU's ticks.
  const pctOfOneCpu = (x: number | null, y: number | null) =>
    x === null || y === null || total === 0
      ? null
      : round(((y - x) / (total / cpus)) * 100);
  return {
    cpus,
    serverPct: pctOfOneCpu(a.server, b.server),
    driverPct: pctOfOneCpu(a.driver, b.driver),
    machineBusyPct: a.machine && b.machine && total
      ? round(((b.machine.busy - a.machine.busy) / total) * 100)
      : null,
  };
}

type Role = "observer" | "sender" | "idle";

interface SoakClient {
  role: Role;
  socket: WebSocket;
  /** Set before the soak closes it; any other close is unexpected. */
  closing: boolean;
}

interface Tally {
  unexpectedCloses: number;
  closeCodes: Record<string, number>;
}

/**
 * Opens a socket, says hello and resolves once welcomed. After the welcome,
 * `onMessages` gets every later frame's messages; without it frames are not
 * read at all, which keeps a thousand idle clients cheap for this process.
 */
function join(
  url: string,
  role: Role,
  tally: Tally,
  onMessages?: (messages: ServerMessage[]) => void,
): Promise<SoakClient> {
  const socket = new WebSocket(url);
  const client: SoakClient = { role, socket, closing: false };
  let welcomed = false;
  return new Promise<SoakClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.closing = true;
      socket.close();
      reject(new Error(`No welcome within ${JOIN_TIMEOUT_MS} ms`));
    }, JOIN_TIMEOUT_MS);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "hello", room: ROOM }));
    };
    socket.onmessage = (event: MessageEvent<unknown>) => {
      if (welcomed && !onMessages) return;
      const messages = typeof event.data === "string"
        ? parseServerFrame(event.data)
        : null;
      if (!messages) {
        console.error(`Unparseable frame for a ${role}: ${event.data}`);
        return;
      }
      if (!welcomed) {
        if (!messages.some((m) => m.type === "welcome")) return;
        welcomed = true;
        clearTimeout(timer);
        resolve(client);
      }
      onMessages?.(messages);
    };
    socket.onclose = (event) => {
      clearTimeout(timer);
      if (!welcomed) {
        reject(new Error(`Closed (${event.code}) before the welcome`));
        return;
      }
      if (client.closing) return;
      tally.unexpectedCloses++;
      const key = `${role}:${event.code}`;
      tally.closeCodes[key] = (tally.closeCodes[key] ?? 0) + 1;
    };
    socket.onerror = () => {};
  });
}

/** Seq and latency bookkeeping of one observer. */
class Observer {
  firstSeq = 0;
  lastSeq = 0;
  seen = 0;
  gaps = 0;
  outOfOrder = 0;
  readonly seqs = new Set<number>();

  constructor(readonly latencies: number[]) {}

  onMessages = (messages: ServerMessage[]): void => {
    const at = now();
    for (const message of messages) {
      if (message.type !== "chat") continue;
      const { seq, text } = message.message;
      this.seen++;
      this.seqs.add(seq);
      if (this.firstSeq === 0) {
        this.firstSeq = seq;
      } else if (seq > this.lastSeq + 1) {
        this.gaps += seq - this.lastSeq - 1;
      } else if (seq <= this.lastSeq) {
        this.outOfOrder++;
      }
      this.lastSeq = Math.max(this.lastSeq, seq);
      if (text.startsWith(MARKER)) {
        const sentAt = Number(text.split(":")[3]);
        if (Number.isFinite(sentAt)) this.latencies.push(at - sentAt);
      }
    }
  };
}

/** One sender: sends at 1 msg/s on its own schedule, counts acks/errors. */
class Sender {
  sent = 0;
  readonly acked = new Map<string, number>();
  refused = 0;
  readonly errors: string[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  client: SoakClient | undefined;

  constructor(readonly index: number) {}

  onMessages = (messages: ServerMessage[]): void => {
    for (const message of messages) {
      if (message.type === "ack") {
        this.acked.set(message.id, message.seq);
      } else if (message.type === "error") {
        this.refused++;
        if (this.errors.length < 5) {
          this.errors.push(`${message.code}: ${message.message}`);
        }
      }
    }
  };

  /** Sends message k at `start + offsetMs + k·1000` until `end`. */
  start(start: number, offsetMs: number, end: number): void {
    const tick = (k: number) => {
      const due = start + offsetMs + k * 1000;
      if (due >= end) return;
      this.#timer = setTimeout(() => {
        const socket = this.client?.socket;
        if (socket?.readyState === WebSocket.OPEN) {
          socket.send(JSON.stringify({
            type: "send",
            id: `s${this.index}-${k}`,
            text: `${MARKER}${this.index}:${k}:${now()}`,
          }));
          this.sent++;
        }
        tick(k + 1);
      }, Math.max(0, due - now()));
    };
    tick(0);
  }

  stop(): void {
    clearTimeout(this.#timer);
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T, R>(
  items: T[],
  limit: number,
  task: (item: T) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      try {
        results[index] = {
          status: "fulfilled",
          value: await task(items[index]!),
        };
      } catch (reason) {
        results[index] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** Runs the soak and returns what it measured; never throws for a failure. */
export async function runSoak(
  options: SoakOptions,
  log: (line: string) => void = console.log,
): Promise<SoakReport> {
  const runMs = options.minutes * 60_000;
  const warmupMs = options.minutes >= 3 ? 60_000 : runMs * 0.2;
  const dataDir = Deno.makeTempDirSync({ prefix: "chat-soak-" });
  const chat = spawnChat(...serverCommand([
    "--port",
    "0",
    "--host",
    "127.0.0.1",
    "--max-per-address",
    "10000",
    "--max-connections",
    "20000",
  ], dataDir));
  const tally: Tally = { unexpectedCloses: 0, closeCodes: {} };
  const clients: SoakClient[] = [];
  const latencies: number[] = [];
  const observers = Array.from(
    { length: options.observers },
    () => new Observer(latencies),
  );
  const senders = Array.from(
    { length: options.senders },
    (_, i) => new Sender(i),
  );
  const failures: string[] = [];
  const rssSamples: { at: number; kb: number }[] = [];
  let cpuStart: CpuSnapshot | undefined;
  let cpuEnd: CpuSnapshot | undefined;
  let sampler: ReturnType<typeof setInterval> | undefined;
  let serverExit: number | null = null;
  let joinMs = 0;
  let joinFailures = 0;
  let runStart = 0;
  let runEnd = 0;
  try {
    const port = await chat.port;
    const url = `ws://127.0.0.1:${port}/ws`;
    const pid = chat.child.pid;
    log(
      `soak: server pid ${pid} on port ${port}; joining ${options.observers} observers, ${options.senders} senders, ${options.idle} idle clients`,
    );

    // Observers first, so they see every message from the first on.
    const joinStart = now();
    type Plan = { role: Role; onMessages?: (m: ServerMessage[]) => void };
    const plans: Plan[] = [
      ...observers.map((o): Plan => ({
        role: "observer",
        onMessages: o.onMessages,
      })),
      ...senders.map((s): Plan => ({
        role: "sender",
        onMessages: s.onMessages,
      })),
      ...Array.from({ length: options.idle }, (): Plan => ({ role: "idle" })),
    ];
    const joined = await pool(
      plans,
      JOIN_CONCURRENCY,
      (plan) => join(url, plan.role, tally, plan.onMessages),
    );
    joinMs = now() - joinStart;
    joined.forEach((result, i) => {
      if (result.status === "fulfilled") {
        clients.push(result.value);
        const senderIndex = i - options.observers;
        const sender = senders[senderIndex];
        if (sender && senderIndex >= 0) sender.client = result.value;
      } else {
        joinFailures++;
        if (joinFailures <= 3) log(`join failed: ${result.reason}`);
      }
    });
    log(
      `soak: ${clients.length} of ${plans.length} clients joined in ${
        round(joinMs / 1000, 1)
      } s; running ${options.minutes} min (warm-up ${
        round(warmupMs / 1000)
      } s)`,
    );

    runStart = now();
    runEnd = runStart + runMs;
    const sample = () => {
      const kb = vmRssKb(pid);
      if (kb !== null) rssSamples.push({ at: now() - runStart, kb });
    };
    sample();
    sampler = setInterval(sample, RSS_SAMPLE_MS);
    cpuStart = cpuSnapshot(pid);
    const spacing = 1000 / Math.max(1, options.senders);
    senders.forEach((s, i) => s.start(runStart, i * spacing, runEnd));

    // Progress once a minute, so a long run shows it is alive.
    while (now() < runEnd) {
      await sleep(Math.min(60_000, runEnd - now()));
      const elapsed = now() - runStart;
      if (elapsed < runMs - 1000) {
        const last = rssSamples.at(-1)?.kb ?? 0;
        log(
          `soak: ${round(elapsed / 60_000)} min: sent ${
            senders.reduce((n, s) => n + s.sent, 0)
          }, server RSS ${
            round(last / 1024)
          } MB, unexpected closes ${tally.unexpectedCloses}`,
        );
      }
    }
    for (const sender of senders) sender.stop();
    cpuEnd = cpuSnapshot(pid);

    // Let the last messages arrive.
    const lastAcked = () =>
      Math.max(0, ...senders.flatMap((s) => [...s.acked.values()]));
    const drainEnd = now() + DRAIN_MS;
    await sleep(200);
    while (
      now() < drainEnd &&
      observers.some((o) => o.lastSeq < lastAcked())
    ) {
      await sleep(50);
    }
    clearInterval(sampler);
    sampler = undefined;
  } catch (error) {
    failures.push(
      `the soak could not run: ${
        error instanceof Error ? error.message : error
      }`,
    );
  } finally {
    clearInterval(sampler);
    for (const sender of senders) sender.stop();
    for (const client of clients) {
      client.closing = true;
      client.socket.close();
    }
    // Give the closes a moment so the server sees clean ends, then stop it.
    await sleep(500);
    serverExit = (await chat.stop("SIGTERM")).code;
    try {
      Deno.removeSync(dataDir, { recursive: true });
    } catch {
      // Only a temporary directory.
    }
  }

  // Figures.
  const sent = senders.reduce((n, s) => n + s.sent, 0);
  const acked = senders.reduce((n, s) => n + s.acked.size, 0);
  const refused = senders.reduce((n, s) => n + s.refused, 0);
  const ackedSeqs = senders.flatMap((s) => [...s.acked.values()]);
  const sorted = Float64Array.from(latencies).sort();
  const latencyMs = {
    count: sorted.length,
    p50: round(percentile(sorted, 50), 2),
    p99: round(percentile(sorted, 99), 2),
    max: round(sorted.at(-1) ?? 0, 2),
  };
  const warm = rssSamples.filter((s) => s.at <= warmupMs).slice(
    -RSS_MEDIAN_SAMPLES,
  );
  const tail = rssSamples.slice(-RSS_MEDIAN_SAMPLES);
  const baselineKb = median(warm.map((s) => s.kb));
  const endKb = median(tail.map((s) => s.kb));
  const growthPct = baselineKb ? ((endKb - baselineKb) / baselineKb) * 100 : 0;
  const rss = {
    baselineKb,
    endKb,
    peakKb: Math.max(0, ...rssSamples.map((s) => s.kb)),
    growthPct: round(growthPct, 2),
    samples: rssSamples.length,
  };
  const observerFigures = observers.map((o) => ({
    firstSeq: o.firstSeq,
    lastSeq: o.lastSeq,
    seen: o.seen,
    gaps: o.gaps,
    outOfOrder: o.outOfOrder,
    missingAcked: ackedSeqs.filter((seq) => !o.seqs.has(seq)).length,
  }));

  // Criteria.
  if (joinFailures > 0) failures.push(`${joinFailures} clients never joined`);
  if (tally.unexpectedCloses > 0) {
    failures.push(
      `${tally.unexpectedCloses} unexpected closes: ${
        JSON.stringify(tally.closeCodes)
      }`,
    );
  }
  if (sent === 0) failures.push("nothing was sent");
  if (acked !== sent) failures.push(`${sent - acked} sends were not acked`);
  if (refused > 0) {
    failures.push(
      `${refused} sends were refused: ${senders.flatMap((s) => s.errors)[0]}`,
    );
  }
  observerFigures.forEach((o, i) => {
    if (o.gaps > 0 || o.outOfOrder > 0) {
      failures.push(
        `observer ${i} saw ${o.gaps} missing and ${o.outOfOrder} out-of-order seqs between ${o.firstSeq} and ${o.lastSeq}`,
      );
    }
    if (o.missingAcked > 0) {
      failures.push(`observer ${i} never saw ${o.missingAcked} acked messages`);
    }
  });
  const cpu = cpuStart && cpuEnd ? cpuUse(cpuStart, cpuEnd) : {
    cpus: navigator.hardwareConcurrency,
    serverPct: null,
    driverPct: null,
    machineBusyPct: null,
  };
  if (latencyMs.count === 0 || latencyMs.p99 >= P99_LIMIT_MS) {
    // Latency is the one figure other programs on the machine can spoil.
    const ours = (cpu.serverPct ?? 0) + (cpu.driverPct ?? 0);
    failures.push(
      `p99 latency ${latencyMs.p99} ms over ${latencyMs.count} deliveries (limit ${P99_LIMIT_MS} ms; ` +
        `the machine was ${
          cpu.machineBusyPct ?? "?"
        } % busy, the server and this driver ${
          round(ours / cpu.cpus)
        } % of it)`,
    );
  }
  if (warm.length === 0 || tail.length === 0) {
    failures.push("too few RSS samples to compare");
  } else if (growthPct >= RSS_GROWTH_LIMIT_PCT) {
    failures.push(
      `server RSS grew ${
        round(growthPct, 2)
      } % after the warm-up (limit ${RSS_GROWTH_LIMIT_PCT} %)`,
    );
  }

  return {
    options,
    passed: failures.length === 0,
    failures,
    serverPid: chat.child.pid,
    joinMs: Math.round(joinMs),
    joinFailures,
    runSeconds: round(((runEnd || now()) - (runStart || now())) / 1000),
    warmupSeconds: round(warmupMs / 1000),
    sent,
    acked,
    refused,
    unexpectedCloses: tally.unexpectedCloses,
    closeCodes: tally.closeCodes,
    observers: observerFigures,
    latencyMs,
    rss,
    cpu,
    serverExit,
  };
}

function summary(report: SoakReport): string {
  const mb = (kb: number) => round(kb / 1024);
  const o = report.observers;
  return [
    `soak: ${report.options.idle} idle + ${report.options.senders} senders + ${report.options.observers} observers for ${report.runSeconds} s (warm-up ${report.warmupSeconds} s; joined in ${
      round(report.joinMs / 1000, 1)
    } s, ${report.joinFailures} failed)`,
    `  sent ${report.sent}, acked ${report.acked}, refused ${report.refused}; unexpected closes ${report.unexpectedCloses}`,
    `  observers: gaps ${o.map((x) => x.gaps).join("/")}, out of order ${
      o.map((x) => x.outOfOrder).join("/")
    }, acked but unseen ${o.map((x) => x.missingAcked).join("/")}, seqs ${
      o.map((x) => `${x.firstSeq}..${x.lastSeq}`).join(" ")
    }`,
    `  latency: p50 ${report.latencyMs.p50} ms, p99 ${report.latencyMs.p99} ms, max ${report.latencyMs.max} ms over ${report.latencyMs.count} deliveries`,
    `  server RSS: ${mb(report.rss.baselineKb)} MB after warm-up, ${
      mb(report.rss.endKb)
    } MB at the end (${
      report.rss.growthPct >= 0 ? "+" : ""
    }${report.rss.growthPct} %), peak ${
      mb(report.rss.peakKb)
    } MB; exit ${report.serverExit}`,
    `  CPU during the run: server ${
      report.cpu.serverPct ?? "?"
    } %, this driver ${report.cpu.driverPct ?? "?"} % (of one CPU); machine ${
      report.cpu.machineBusyPct ?? "?"
    } % busy across ${report.cpu.cpus} CPUs, other programs included`,
    report.passed ? "  PASSED" : `  FAILED: ${report.failures.join("; ")}`,
  ].join("\n");
}

function positive(flag: string, text: string, integer: boolean): number {
  const value = Number(text);
  if (
    !Number.isFinite(value) || value <= 0 ||
    (integer && !Number.isInteger(value))
  ) {
    throw new RangeError(
      `${flag} "${text}" is not valid: use a positive ${
        integer ? "whole " : ""
      }number`,
    );
  }
  return value;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      minutes: { type: "string", default: "10" },
      idle: { type: "string", default: "1000" },
      senders: { type: "string", default: "50" },
      observers: { type: "string", default: "3" },
    },
    strict: true,
  });
  const options: SoakOptions = {
    minutes: positive("--minutes", values.minutes, false),
    idle: positive("--idle", values.idle, true),
    senders: positive("--senders", values.senders, true),
    observers: positive("--observers", values.observers, true),
  };
  const watchdog = setTimeout(() => {
    console.error("soak: FAILED: overran its time limit");
    Deno.exit(2);
  }, options.minutes * 60_000 + OVERRUN_MS);
  const report = await runSoak(options);
  clearTimeout(watchdog);
  console.log(summary(report));
  console.log(`SOAK_RESULT ${JSON.stringify(report)}`);
  Deno.exit(report.passed ? 0 : 1);
}
