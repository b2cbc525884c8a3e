import assert from "node:assert/strict";
import { ChatMetrics, Histogram, renderMetrics } from "./metrics.ts";

const GAUGES = {
  connections: 3,
  rooms: 2,
  storeHealthy: true,
  memory: { rss: 50_000_000, heapUsed: 10_000_000, heapTotal: 20_000_000 },
  uptimeSeconds: 7,
};

Deno.test("a histogram's buckets are cumulative and end with +Inf", () => {
  const histogram = new Histogram();
  for (const ms of [0.2, 0.9, 3, 3, 40, 5_000]) histogram.observe(ms);
  const lines = histogram.render("x");
  assert.ok(lines.includes('x_bucket{le="0.0005"} 1'));
  assert.ok(lines.includes('x_bucket{le="0.001"} 2'));
  assert.ok(lines.includes('x_bucket{le="0.005"} 4'));
  assert.ok(lines.includes('x_bucket{le="0.05"} 5'));
  assert.ok(lines.includes('x_bucket{le="2.5"} 5'));
  assert.ok(lines.includes('x_bucket{le="+Inf"} 6'));
  assert.ok(lines.includes("x_count 6"));
  const sum = Number(lines.find((l) => l.startsWith("x_sum "))?.split(" ")[1]);
  assert.ok(Math.abs(sum - 5.0471) < 1e-9, String(sum));
});

Deno.test("counters and labels render in the Prometheus text format", () => {
  const metrics = new ChatMetrics();
  metrics.messagesStored = 5;
  metrics.refused("rate_limited");
  metrics.refused("rate_limited");
  metrics.refused("bad_message");
  metrics.closedByServer("Not reading fast enough");
  metrics.closedByPeer(1006);
  const text = renderMetrics(metrics, { ...GAUGES, storeHealthy: false });
  const lines = text.split("\n");
  assert.ok(lines.includes("chat_messages_stored_total 5"));
  assert.ok(lines.includes('chat_refusals_total{code="rate_limited"} 2'));
  assert.ok(lines.includes('chat_refusals_total{code="bad_message"} 1'));
  assert.ok(
    lines.includes(
      'chat_server_closes_total{reason="not_reading_fast_enough"} 1',
    ),
  );
  assert.ok(lines.includes('chat_peer_closes_total{code="1006"} 1'));
  assert.ok(lines.includes("chat_store_healthy 0"));
  assert.ok(lines.includes("chat_connections 3"));
  assert.ok(text.endsWith("\n"));
  // Each family is declared once, before its samples.
  const declared = lines.filter((l) => l.startsWith("# TYPE ")).map((l) =>
    l.split(" ")[2]
  );
  assert.equal(new Set(declared).size, declared.length);
  for (const line of lines.filter((l) => l && !l.startsWith("#"))) {
    const name = line.split(/[{ ]/)[0]!;
    assert.ok(
      declared.some((family) =>
        name === family || name.startsWith(`${family}_`)
      ),
      `${name} is declared`,
    );
  }
});
