/**
 * What the chat counts, and its rendering in the Prometheus text format
 * (version 0.0.4) for `/metrics`. Pure: the hub, rooms and stores bump plain
 * fields on the hot path (a field increment per event, nothing allocated);
 * gauges that already exist elsewhere (connections, rooms, memory) are read
 * only when scraped.
 *
 * Written here rather than taken from `prom-client`: that package would be
 * the one npm download on the start path of every zero-config user, for
 * what is a few counters and two histograms.
 */

/** Upper bounds, in seconds, of the latency histograms' buckets. */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005,
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
] as const;

/** A cumulative histogram over fixed buckets, observed in milliseconds. */
export class Histogram {
  readonly #boundsMs = LATENCY_BUCKETS_SECONDS.map((s) => s * 1000);
  /** Per bucket (not cumulative), the last one being +Inf. */
  readonly #counts = new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1)
    .fill(0);
  #sumMs = 0;
  #count = 0;

  observe(ms: number): void {
    const bounds = this.#boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.#counts[i]!++;
    this.#sumMs += ms;
    this.#count++;
  }

  get count(): number {
    return this.#count;
  }

  /**
   * The `_bucket`, `_sum` and `_count` lines for metric `name`; `labels`
   * (e.g. `stage="store"`) go in front of `le`.
   */
  render(name: string, labels = ""): string[] {
    const lines: string[] = [];
    const before = labels === "" ? "" : `${labels},`;
    const only = labels === "" ? "" : `{${labels}}`;
    let cumulative = 0;
    LATENCY_BUCKETS_SECONDS.forEach((bound, i) => {
      cumulative += this.#counts[i]!;
      lines.push(`${name}_bucket{${before}le="${bound}"} ${cumulative}`);
    });
    cumulative += this.#counts.at(-1)!;
    lines.push(`${name}_bucket{${before}le="+Inf"} ${cumulative}`);
    lines.push(`${name}_sum${only} ${this.#sumMs / 1000}`);
    lines.push(`${name}_count${only} ${this.#count}`);
    return lines;
  }
}

/** Counters bumped by the chat core and the socket edge. */
export class ChatMetrics {
  messagesStored = 0;
  acks = 0;
  /** Events delivered to sockets (one per event per recipient). */
  deliveries = 0;
  /** WebSocket frames of room events sent (one per recipient). */
  frames = 0;
  /** Of those, frames carrying several events (`batch`). */
  batchFrames = 0;
  storeErrors = 0;
  /** Sockets that went away without the server closing them, by code. */
  readonly peerCloses = new Map<number, number>();
  /** By the close reason's text, e.g. "not_reading_fast_enough". */
  readonly serverCloses = new Map<string, number>();
  readonly refusals = new Map<string, number>();
  /** From a `send` arriving to its ack leaving. */
  readonly ackLatency = new Histogram();
  /** One group commit (SQLite) or append round trip (Redis). */
  readonly commitLatency = new Histogram();
  /**
   * A hello's way to its welcome, by stage: `room` (loading the room),
   * `session` (the session write made durable), `history` (reading it and
   * catching up with delivery), `total` (hello handled to welcome sent).
   */
  /**
   * A room event's way out: `wait` (the oldest event of a batch, from
   * queued to flushed), `fanout` (writing one frame to every member here).
   */
  readonly deliveryStages = {
    wait: new Histogram(),
    fanout: new Histogram(),
  };
  readonly joinStages = {
    room: new Histogram(),
    session: new Histogram(),
    history: new Histogram(),
    total: new Histogram(),
  };

  refused(code: string): void {
    this.refusals.set(code, (this.refusals.get(code) ?? 0) + 1);
  }

  /** `reason` is one of the server's fixed close reasons, so few labels. */
  closedByServer(reason: string): void {
    const slug = reason.toLowerCase().replace(/[^a-z0-9]+/g, "_");
    this.serverCloses.set(slug, (this.serverCloses.get(slug) ?? 0) + 1);
  }

  closedByPeer(code: number): void {
    this.peerCloses.set(code, (this.peerCloses.get(code) ?? 0) + 1);
  }
}

/** Values read at scrape time. */
export interface Gauges {
  connections: number;
  rooms: number;
  /** The store can write (0 while it cannot: see /healthz for why). */
  storeHealthy: boolean;
  memory: { rss: number; heapUsed: number; heapTotal: number };
  uptimeSeconds: number;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  lines: string[];
}

/** Escapes a label value as the text format requires. */
function label(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(
    /\n/g,
    "\\n",
  );
}

function labelled(
  name: string,
  key: string,
  counts: ReadonlyMap<string | number, number>,
): string[] {
  return [...counts].map(([value, count]) =>
    `${name}{${key}="${label(String(value))}"} ${count}`
  );
}

/** The whole exposition, one family per metric. */
export function renderMetrics(metrics: ChatMetrics, gauges: Gauges): string {
  const families: Family[] = [
    {
      name: "chat_connections",
      help: "Open WebSocket connections.",
      type: "gauge",
      lines: [`chat_connections ${gauges.connections}`],
    },
    {
      name: "chat_rooms",
      help: "Rooms loaded in this process.",
      type: "gauge",
      lines: [`chat_rooms ${gauges.rooms}`],
    },
    {
      name: "chat_messages_stored_total",
      help: "Chat messages stored (resends of stored ones not counted).",
      type: "counter",
      lines: [`chat_messages_stored_total ${metrics.messagesStored}`],
    },
    {
      name: "chat_acks_total",
      help: "Acks sent to authors.",
      type: "counter",
      lines: [`chat_acks_total ${metrics.acks}`],
    },
    {
      name: "chat_deliveries_total",
      help: "Room events delivered, one per event per recipient.",
      type: "counter",
      lines: [`chat_deliveries_total ${metrics.deliveries}`],
    },
    {
      name: "chat_frames_total",
      help: "WebSocket frames of room events sent, one per recipient.",
      type: "counter",
      lines: [`chat_frames_total ${metrics.frames}`],
    },
    {
      name: "chat_batch_frames_total",
      help: "Frames that carried several events at once.",
      type: "counter",
      lines: [`chat_batch_frames_total ${metrics.batchFrames}`],
    },
    {
      name: "chat_refusals_total",
      help: "Client messages refused, by error code.",
      type: "counter",
      lines: labelled("chat_refusals_total", "code", metrics.refusals),
    },
    {
      name: "chat_server_closes_total",
      help:
        "Sockets closed by the server, by reason (not_reading_fast_enough: a slow reader).",
      type: "counter",
      lines: labelled(
        "chat_server_closes_total",
        "reason",
        metrics.serverCloses,
      ),
    },
    {
      name: "chat_peer_closes_total",
      help:
        "Sockets that ended without the server closing them, by close code (1006: lost, e.g. no answer to the heartbeat ping).",
      type: "counter",
      lines: labelled("chat_peer_closes_total", "code", metrics.peerCloses),
    },
    {
      name: "chat_store_errors_total",
      help: "Appends the store could not make durable.",
      type: "counter",
      lines: [`chat_store_errors_total ${metrics.storeErrors}`],
    },
    {
      name: "chat_store_healthy",
      help: "1 while the store can write, 0 otherwise (see /healthz).",
      type: "gauge",
      lines: [`chat_store_healthy ${gauges.storeHealthy ? 1 : 0}`],
    },
    {
      name: "chat_ack_latency_seconds",
      help: "From a send arriving to its ack leaving.",
      type: "histogram",
      lines: metrics.ackLatency.render("chat_ack_latency_seconds"),
    },
    {
      name: "chat_commit_latency_seconds",
      help: "One store commit (a SQLite group commit, or a Redis append).",
      type: "histogram",
      lines: metrics.commitLatency.render("chat_commit_latency_seconds"),
    },
    {
      name: "chat_delivery_stage_seconds",
      help:
        "A room event's way out: wait (oldest event of a batch, queued to flushed) and fanout (one frame written to every member).",
      type: "histogram",
      lines: Object.entries(metrics.deliveryStages).flatMap((
        [stage, histogram],
      ) => histogram.render("chat_delivery_stage_seconds", `stage="${stage}"`)),
    },
    {
      name: "chat_join_stage_seconds",
      help:
        "From a hello being handled to its welcome, by stage (room, session, history) and in total.",
      type: "histogram",
      lines: Object.entries(metrics.joinStages).flatMap(([stage, histogram]) =>
        histogram.render("chat_join_stage_seconds", `stage="${stage}"`)
      ),
    },
    {
      name: "process_resident_memory_bytes",
      help: "Resident set size.",
      type: "gauge",
      lines: [`process_resident_memory_bytes ${gauges.memory.rss}`],
    },
    {
      name: "chat_heap_used_bytes",
      help: "JavaScript heap in use.",
      type: "gauge",
      lines: [`chat_heap_used_bytes ${gauges.memory.heapUsed}`],
    },
    {
      name: "chat_uptime_seconds",
      help: "Seconds since the server started.",
      type: "gauge",
      lines: [`chat_uptime_seconds ${gauges.uptimeSeconds}`],
    },
  ];
  return families.map((f) =>
    [`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...f.lines]
      .join("\n")
  ).join("\n") + "\n";
}
