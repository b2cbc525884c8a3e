/**
 * Load tests: a thundering herd of real browser-client connections after a
 * kill -9 and restart, and an hour's worth of join/leave churn compressed
 * into a minute. Each prints one summary line with what it measured.
 */

import assert from "node:assert/strict";
import {
  Connection,
  type ConnectionStatus,
  MAX_DELAY_MS,
} from "../client/connection.ts";
import type { Member, ServerMessage } from "../protocol/messages.ts";
import { startServer, TestClient } from "./helpers.ts";
import { type ChatProcess, serverCommand, spawnChat } from "./process.ts";

/** Every load comes from 127.0.0.1, so the per-address cap is lifted. */
const LOAD_FLAGS = [
  "--host",
  "127.0.0.1",
  "--max-per-address",
  "10000",
  "--max-connections",
  "20000",
  "--send-rate",
  "100",
  "--send-burst",
  "100",
];

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `condition` every `stepMs` until it holds or `timeoutMs` passes. */
async function waitFor(
  condition: () => boolean,
  timeoutMs: number,
  stepMs = 20,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() >= deadline) return false;
    await sleep(stepMs);
  }
  return true;
}

function round(n: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(n * scale) / scale;
}

/** One herd member: a real `Connection` and what the test saw of it. */
interface HerdClient {
  connection: Connection;
  /**
   * Every socket this client constructed: when (performance.now()), and when
   * it was due: a retry's timer deadline, else the same time. The two differ
   * when this process, host of all 500 clients, stalls and fires a crowd of
   * late timers at once; independent browsers would not.
   */
  attempts: { at: number; due: number }[];
  /** performance.now() of every welcome. */
  welcomes: number[];
  /** Whether each welcome continued the earlier session. */
  resumed: boolean[];
  /** Retry delays the connection scheduled through the injected timer. */
  retryDelays: number[];
  resumeToken?: string;
  epoch?: string;
  lastSeq?: number;
}

function herdClient(url: string): HerdClient {
  const client: HerdClient = {
    connection: undefined as unknown as Connection,
    attempts: [],
    welcomes: [],
    resumed: [],
    retryDelays: [],
  };
  /** Deadline of the retry timer running right now, if one is. */
  let firingDue: number | undefined;
  // Deno's own WebSocket, noting the time of every attempt.
  class RecordingWebSocket extends WebSocket {
    constructor(url: string) {
      const at = performance.now();
      client.attempts.push({ at, due: firingDue ?? at });
      super(url);
    }
  }
  // The connection announces "reconnecting" just before it asks for the
  // retry timer, which tells a retry delay from the stable-connection timer.
  let retryPending = false;
  const setTimer = (callback: () => void, ms: number): () => void => {
    if (!retryPending) {
      const id = setTimeout(callback, ms);
      return () => clearTimeout(id);
    }
    retryPending = false;
    client.retryDelays.push(ms);
    const due = performance.now() + ms;
    const id = setTimeout(() => {
      firingDue = due;
      try {
        callback();
      } finally {
        firingDue = undefined;
      }
    }, ms);
    return () => clearTimeout(id);
  };
  client.connection = new Connection({
    url,
    hello: () => ({
      type: "hello",
      room: "main",
      ...(client.resumeToken === undefined
        ? {}
        : { resumeToken: client.resumeToken }),
      ...(client.epoch === undefined ? {} : { epoch: client.epoch }),
      ...(client.lastSeq === undefined ? {} : { lastSeq: client.lastSeq }),
    }),
    onMessage: (message: ServerMessage) => {
      if (message.type === "welcome") {
        client.welcomes.push(performance.now());
        client.resumed.push(message.resumed);
        client.resumeToken = message.resumeToken;
        client.epoch = message.epoch;
        const last = message.history.at(-1);
        if (last) client.lastSeq = last.seq;
      } else if (message.type === "history") {
        const last = message.messages.at(-1);
        if (last) client.lastSeq = last.seq;
      } else if (message.type === "chat") {
        client.lastSeq = message.message.seq;
      }
    },
    onStatus: (status: ConnectionStatus) => {
      if (status.phase === "reconnecting") retryPending = true;
    },
    WebSocket: RecordingWebSocket,
    setTimer,
  });
  return client;
}

async function startChat(
  dataDir: string,
  port = 0,
): Promise<{ chat: ChatProcess; port: number }> {
  const chat = spawnChat(
    ...serverCommand(["--port", String(port), ...LOAD_FLAGS], dataDir),
  );
  try {
    return { chat, port: await chat.port };
  } catch (error) {
    await chat.stop("SIGKILL");
    throw error;
  }
}

interface Bucketed {
  total: number;
  largest: number;
  share: number;
  /** Start of the largest bucket, from the origin. */
  offsetMs: number;
}

/** The fullest HERD_BUCKET_MS-wide bucket of `times`, counted from `origin`. */
function largestBucket(times: number[], origin: number): Bucketed {
  const buckets = new Map<number, number>();
  for (const time of times) {
    const bucket = Math.floor((time - origin) / HERD_BUCKET_MS);
    buckets.set(bucket, (buckets.get(bucket) ?? 0) + 1);
  }
  let largest = 0;
  let offsetMs = 0;
  for (const [bucket, count] of buckets) {
    if (count > largest) {
      largest = count;
      offsetMs = bucket * HERD_BUCKET_MS;
    }
  }
  return {
    total: times.length,
    largest,
    share: times.length ? largest / times.length : 0,
    offsetMs,
  };
}

const HERD_SIZE = 500;
const HERD_DOWN_MS = 3_000;
const HERD_RECONNECT_LIMIT_MS = 30_000;
const HERD_BUCKET_MS = 100;
const HERD_MAX_BUCKET_SHARE = 0.15;

Deno.test("after a kill -9 and restart, 500 jittered clients are all back within 30 s", async () => {
  const dataDir = Deno.makeTempDirSync({ prefix: "chat-herd-" });
  let { chat, port } = await startChat(dataDir);
  const url = `ws://127.0.0.1:${port}/ws`;
  const clients: HerdClient[] = [];
  try {
    // Join in waves so the first welcome is not itself a herd.
    for (let i = 0; i < HERD_SIZE; i++) {
      const client = herdClient(url);
      clients.push(client);
      client.connection.start();
      if (i % 50 === 49) {
        await waitFor(
          () => clients.every((c) => c.welcomes.length > 0),
          10_000,
        );
      }
    }
    assert.ok(
      await waitFor(() => clients.every((c) => c.welcomes.length > 0), 20_000),
      `Only ${
        clients.filter((c) => c.welcomes.length > 0).length
      } of ${HERD_SIZE} clients were welcomed at the start`,
    );

    const killedAt = performance.now();
    await chat.stop("SIGKILL");
    // Connections notice the kill at once: the kernel closes their sockets.
    await waitFor(() => clients.every((c) => !c.connection.isOpen), 5_000);
    await sleep(HERD_DOWN_MS - (performance.now() - killedAt));
    // Attempts from here on count as after the restart, even the few that
    // are refused while the new process starts.
    const restartedAt = performance.now();
    ({ chat } = await startChat(dataDir, port));
    const listeningMs = performance.now() - restartedAt;

    const back = () =>
      clients.every((c) => c.welcomes.some((at) => at >= killedAt));
    const allBack = await waitFor(back, HERD_RECONNECT_LIMIT_MS, 50);
    const lastWelcome = Math.max(
      ...clients.map((c) => c.welcomes.at(-1) ?? Infinity),
    );
    const reconnectMs = lastWelcome - restartedAt;

    // The jitter decides when attempts are due; that spread is asserted.
    // When they actually ran is reported beside it.
    const attempts = clients.flatMap((c) => c.attempts);
    const scheduled = largestBucket(
      attempts.map((a) => a.due).filter((due) => due >= restartedAt),
      restartedAt,
    );
    const actual = largestBucket(
      attempts.map((a) => a.at).filter((at) => at >= restartedAt),
      restartedAt,
    );
    const lateMs = Math.max(0, ...attempts.map((a) => a.at - a.due));
    const delays = clients.flatMap((c) => c.retryDelays);
    const maxDelay = Math.max(0, ...delays);
    const resumed = clients.filter((c) => c.resumed.at(-1) === true).length;
    const attemptsWhileDown = attempts.filter((a) =>
      a.at >= killedAt && a.at < restartedAt
    ).length;
    const describe = (b: Bucketed) =>
      `${b.largest} of ${b.total} (${
        round(b.share * 100)
      }%, at +${b.offsetMs} ms)`;

    console.log(
      `herd: ${HERD_SIZE} clients; all reconnected ${
        round(reconnectMs / 1000, 2)
      } s after the restart (${
        round((lastWelcome - killedAt) / 1000, 2)
      } s after the kill; new server listening after ${
        Math.round(listeningMs)
      } ms); ${scheduled.total} attempts after the restart, largest ${HERD_BUCKET_MS} ms bucket ` +
        `${describe(scheduled)} by due time, ${
          describe(actual)
        } by actual time (timers up to ${
          Math.round(lateMs)
        } ms late); ${attemptsWhileDown} attempts while down; ${delays.length} retry delays, max ${maxDelay} ms; ` +
        `${resumed} resumed their session`,
    );

    assert.ok(
      allBack,
      `${
        clients.filter((c) => !c.welcomes.some((at) => at >= killedAt))
          .length
      } of ${HERD_SIZE} clients were not welcomed within ${HERD_RECONNECT_LIMIT_MS} ms of the restart`,
    );
    assert.ok(reconnectMs <= HERD_RECONNECT_LIMIT_MS);
    assert.ok(
      scheduled.total >= HERD_SIZE,
      `Only ${scheduled.total} attempts`,
    );
    assert.ok(
      scheduled.share <= HERD_MAX_BUCKET_SHARE,
      `${
        describe(scheduled)
      } reconnect attempts were due in one ${HERD_BUCKET_MS} ms bucket`,
    );
    assert.ok(delays.length > 0, "No retry delay was recorded");
    assert.ok(
      maxDelay <= MAX_DELAY_MS,
      `A retry was scheduled after ${maxDelay} ms, above the ${MAX_DELAY_MS} ms cap`,
    );
  } finally {
    for (const client of clients) client.connection.stop();
    await chat.stop("SIGKILL");
    Deno.removeSync(dataDir, { recursive: true });
  }
});

const CHURN_RATE_PER_SECOND = 50;
const CHURN_SECONDS = 60;
const CHURN_GRACE_MS = 500;
const CHURN_SWEEP_MS = 200;
const CHURN_WARMUP_SECONDS = 10;
const CHURN_MAX_IN_FLIGHT = 200;
const CHURN_RSS_SLACK_BYTES = 50 * 1024 * 1024;
const CHURN_FD_SLACK = 10;
/** How long RSS may take to come back once the churn stops. */
const CHURN_RSS_SETTLE_MS = 20_000;

function openFds(): number {
  let count = 0;
  for (const _ of Deno.readDirSync("/proc/self/fd")) count++;
  return count;
}

/**
 * The membership a client would show: welcome members, then joins and
 * leaves, one by one or in `presence` summaries.
 */
class MemberView {
  readonly members = new Map<string, Member>();
  joins = 0;
  leaves = 0;
  /** A summary named fewer people than it counted; the view is partial. */
  incomplete = false;
  #applied = 0;

  apply(received: readonly ServerMessage[]): void {
    for (; this.#applied < received.length; this.#applied++) {
      const message = received[this.#applied];
      if (message?.type === "welcome") {
        this.members.clear();
        for (const member of message.members) {
          this.members.set(member.id, member);
        }
      } else if (message?.type === "joined") {
        this.joins++;
        this.members.set(message.member.id, message.member);
      } else if (message?.type === "left") {
        this.leaves++;
        this.members.delete(message.member.id);
      } else if (message?.type === "presence") {
        this.joins += message.joinedCount;
        this.leaves += message.leftCount;
        for (const member of message.left) this.members.delete(member.id);
        for (const member of message.joined) {
          this.members.set(member.id, member);
        }
        if (
          message.joinedCount > message.joined.length ||
          message.leftCount > message.left.length
        ) {
          this.incomplete = true;
        }
      }
    }
  }
}

Deno.test("50 joins and leaves a second for a minute leave no ghosts, sockets or memory behind", async () => {
  const server = startServer({ leaveGraceMs: CHURN_GRACE_MS });
  const sweeper = setInterval(() => server.hub.sweep(), CHURN_SWEEP_MS);
  const { client: observer, welcome } = await TestClient.join(server.wsUrl);
  const view = new MemberView();
  try {
    const fdBaseline = openFds();
    let rssBaseline = 0;
    let rssPeak = 0;
    let fdPeak = fdBaseline;
    const total = CHURN_RATE_PER_SECOND * CHURN_SECONDS;
    const intervalMs = 1000 / CHURN_RATE_PER_SECOND;
    let done = 0;
    let inFlight = 0;
    let skipped = 0;
    const failures: string[] = [];

    const churnOne = async (): Promise<void> => {
      inFlight++;
      try {
        const { client } = await TestClient.join(server.wsUrl);
        await client.close();
        done++;
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      } finally {
        inFlight--;
      }
    };

    const started = performance.now();
    const tasks: Promise<void>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (i % CHURN_RATE_PER_SECOND === 0) {
        view.apply(observer.received);
        const rss = Deno.memoryUsage().rss;
        if (i === CHURN_RATE_PER_SECOND * CHURN_WARMUP_SECONDS) {
          rssBaseline = rss;
        }
        rssPeak = Math.max(rssPeak, rss);
        fdPeak = Math.max(fdPeak, openFds());
      }
      // A stalled server must fail the test, not pile up sockets without end.
      if (inFlight >= CHURN_MAX_IN_FLIGHT) {
        skipped++;
        continue;
      }
      tasks.push(churnOne());
    }
    const churnMs = performance.now() - started;
    await Promise.race([Promise.all(tasks), sleep(10_000)]);

    // Past the grace period and a few sweeps, everyone churned has left.
    await sleep(CHURN_GRACE_MS + 3 * CHURN_SWEEP_MS);
    await waitFor(() => {
      view.apply(observer.received);
      return view.members.size === 1;
    }, 3_000);
    view.apply(observer.received);
    const health = await (await fetch(`${server.url}/healthz`)).json() as {
      connections: number;
      sockets: number;
    };
    // V8 keeps the heap it grew under the churn's allocation rate until its
    // memory reducer sees the process idle, some seconds later. Garbage held
    // that way comes back; leaked objects would not.
    const rssAtEnd = Deno.memoryUsage().rss;
    const settleStarted = performance.now();
    await waitFor(
      () => Deno.memoryUsage().rss - rssBaseline <= CHURN_RSS_SLACK_BYTES,
      CHURN_RSS_SETTLE_MS,
      250,
    );
    const settleMs = performance.now() - settleStarted;
    const rssEnd = Deno.memoryUsage().rss;
    const fdEnd = openFds();
    const mb = (bytes: number) => round(bytes / 1024 / 1024);
    const self = welcome.you.id;
    // The observer's own join reaches it too.
    const joined = view.joins -
      observer.all("joined").filter((m) => m.member.id === self).length;
    const left = view.leaves;

    console.log(
      `churn: ${done}/${total} join+close in ${
        round(churnMs / 1000, 1)
      } s (${skipped} skipped, ${failures.length} failed); observer saw ${joined} joined, ${left} left, ` +
        `${view.members.size} member(s) at the end; healthz connections ${health.connections}, sockets ${health.sockets}; ` +
        `RSS baseline ${
          mb(rssBaseline)
        } MB after ${CHURN_WARMUP_SECONDS} s, peak ${
          mb(rssPeak)
        } MB, end of churn ${mb(rssAtEnd)} MB, settled ${mb(rssEnd)} MB (${
          rssEnd >= rssBaseline ? "+" : ""
        }${mb(rssEnd - rssBaseline)} MB, after ${
          round(settleMs / 1000, 1)
        } s); fds baseline ${fdBaseline}, peak ${fdPeak}, end ${fdEnd}`,
    );

    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed`);
    assert.equal(skipped, 0, "The server fell behind the churn");
    assert.equal(done, total);
    assert.equal(joined, total, "The observer missed some joins");
    assert.equal(left, total, "The observer missed some leaves");
    assert.equal(view.incomplete, false, "A presence summary was truncated");
    assert.deepEqual([...view.members.keys()], [self]);
    assert.equal(health.connections, 1);
    assert.equal(health.sockets, 1);
    assert.equal(server.hub.stats().connections, 1);
    assert.ok(
      rssEnd - rssBaseline <= CHURN_RSS_SLACK_BYTES,
      `RSS grew by ${mb(rssEnd - rssBaseline)} MB after warm-up`,
    );
    assert.ok(
      fdEnd - fdBaseline <= CHURN_FD_SLACK,
      `${fdEnd - fdBaseline} more open file descriptors than at the start`,
    );
  } finally {
    clearInterval(sweeper);
    await observer.close();
    await server.close();
  }
});
