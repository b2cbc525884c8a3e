/**
 * The edge's send queue, with a fake socket whose send buffer the test
 * fills and empties: a stream waits for the client, and frames sent during
 * it follow it in order.
 */

import assert from "node:assert/strict";
import { Hub } from "./chat/hub.ts";
import { LocalFanout } from "./fanout/fanout.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { type PeerSocket, SocketPeer } from "./ws_edge.ts";

class FakeSocket implements PeerSocket {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: string[] = [];
  readonly closes: number[] = [];
  send(frame: string): void {
    this.sent.push(frame);
  }
  close(code?: number): void {
    this.closes.push(code ?? 1005);
    this.readyState = WebSocket.CLOSING;
  }
  addEventListener(): void {}
}

function rig() {
  const socket = new FakeSocket();
  const hub = new Hub({ store: new MemoryStore(), fanout: new LocalFanout() });
  const errors: unknown[] = [];
  const peer = new SocketPeer(socket, hub, () => {}, (e) => errors.push(e));
  return { socket, peer, errors };
}

function* numbered(count: number, made: string[]): Generator<string> {
  for (let i = 1; i <= count; i++) {
    made.push(`s${i}`);
    yield `s${i}`;
  }
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("a stream goes out at the client's pace and later frames wait behind it", async () => {
  const { socket, peer } = rig();
  const made: string[] = [];
  socket.bufferedAmount = 1_000_000; // the client is not reading
  peer.stream(numbered(3, made));
  peer.send("after");
  assert.deepEqual(socket.sent, [], "nothing sent while the buffer is full");
  assert.deepEqual(made, [], "nothing even made while it waits");
  await tick(20);
  assert.deepEqual(socket.sent, [], "still waiting");
  socket.bufferedAmount = 0; // it caught up
  await tick(20);
  assert.deepEqual(socket.sent, ["s1", "s2", "s3", "after"]);
  peer.send("direct");
  assert.equal(socket.sent.at(-1), "direct", "sends are direct again");
});

Deno.test("a stream on a free socket is sent at once, in order", () => {
  const { socket, peer } = rig();
  peer.send("welcome");
  peer.stream(numbered(2, []));
  peer.send("event");
  assert.deepEqual(socket.sent, ["welcome", "s1", "s2", "event"]);
});

Deno.test("a client that lets frames pile up behind a stream is closed with 1008", async () => {
  const { socket, peer } = rig();
  socket.bufferedAmount = 1_000_000;
  peer.stream(numbered(1, []));
  for (let i = 0; i < 2_000 && socket.closes.length === 0; i++) {
    peer.send(`e${i}`);
  }
  assert.deepEqual(socket.closes, [1008]);
  assert.deepEqual(socket.sent, []);
  socket.bufferedAmount = 0; // room to send: only the closing state stops it
  await tick(10); // the pending retry finds the socket closing and stops
  assert.deepEqual(socket.sent, []);
  peer.handleEvent(new Event("close")); // the client answered the close
});

Deno.test("a bug while making a streamed frame later closes that connection with 1011, not the process", async () => {
  const { socket, peer, errors } = rig();
  socket.bufferedAmount = 1_000_000;
  peer.stream((function* () {
    yield "s1";
    throw new Error("broken slice");
  })());
  socket.bufferedAmount = 0;
  await tick(20); // the retry timer runs the pump
  assert.deepEqual(socket.sent, ["s1"]);
  assert.deepEqual(socket.closes, [1011]);
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]), /broken slice/);
  peer.handleEvent(new Event("close"));
});
