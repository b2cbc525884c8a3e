/**
 * The floor the chat is measured against: the smallest Deno broadcast server.
 * Every text frame received goes to every open socket, unparsed; no rooms,
 * names, history, limits or storage. With `--join-notice` each new
 * connection also sends a small notice to everyone, like the chat's
 * `joined`, so a join storm compares like for like.
 *
 *   deno run --allow-net=127.0.0.1 bench/baseline_server.ts --port 9000 [--join-notice]
 */

import { parseArgs } from "node:util";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    "join-notice": { type: "boolean", default: false },
  },
});

const sockets = new Set<WebSocket>();
let joins = 0;

function broadcast(frame: string): void {
  for (const socket of sockets) {
    if (socket.readyState === WebSocket.OPEN) socket.send(frame);
  }
}

Deno.serve({
  port: Number(values.port),
  hostname: values.host,
  onListen: ({ port }) => console.log(`Baseline listening on ${port}`),
}, (request) => {
  if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
    return new Response(`ok ${sockets.size}\n`);
  }
  const { socket, response } = Deno.upgradeWebSocket(request);
  socket.onopen = () => {
    sockets.add(socket);
    if (values["join-notice"]) broadcast(`{"type":"joined","n":${++joins}}`);
  };
  socket.onmessage = (event) => {
    if (typeof event.data === "string") broadcast(event.data);
  };
  socket.onclose = () => sockets.delete(socket);
  socket.onerror = () => {};
  return response;
});
