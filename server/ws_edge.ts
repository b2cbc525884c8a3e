/**
 * The only caller of `Deno.upgradeWebSocket`: turns socket events into
 * validated messages for the hub and adapts the socket to a `Peer`.
 */

import {
  CLOSE_CODES,
  MAX_FRAME_BYTES_HARD,
  parseClientMessage,
  ProtocolError,
  utf8Length,
} from "../protocol/messages.ts";
import type { Hub } from "./chat/hub.ts";
import type { Peer } from "./chat/peer.ts";

/**
 * Deno pings a silent peer after half of this many seconds and closes it
 * (1001) if no pong comes by the full timeout: a dead peer is gone within it.
 */
const IDLE_TIMEOUT_SECONDS = 15;

/**
 * Outbound bytes queued for one peer before it counts as not reading. Deno's
 * `send` queues without limit, so a stalled client would otherwise grow the
 * server's memory for as long as the room is busy.
 */
export const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * After the server closes a socket, Deno reports the close only once the
 * peer answers it, and a hostile or frozen peer may never do so. Its
 * connection slot is given back after this long regardless.
 */
const CLOSE_DEADLINE_MS = 5_000;

/** Upgrades `request` and attaches the socket to `hub`. */
export function upgradeToChat(
  request: Request,
  hub: Hub,
  onClosed: () => void = () => {},
  onUnexpectedError: (error: unknown) => void = console.error,
): Response {
  const { socket, response } = Deno.upgradeWebSocket(request, {
    idleTimeout: IDLE_TIMEOUT_SECONDS,
  });
  const peer: Peer = {
    id: crypto.randomUUID(),
    send(frame) {
      if (socket.readyState !== WebSocket.OPEN) return;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        peer.close(CLOSE_CODES.policyViolation, "Not reading fast enough");
        return;
      }
      socket.send(frame);
    },
    close(code, reason) {
      if (socket.readyState >= WebSocket.CLOSING) return;
      try {
        socket.close(code, reason);
      } catch {
        // Already failing; the close event will follow.
      }
      // The peer is out of the room now, not when it gets round to
      // answering the close.
      hub.disconnect(peer.id);
      deadline ??= setTimeout(finish, CLOSE_DEADLINE_MS);
    },
  };
  let deadline: ReturnType<typeof setTimeout> | undefined;
  let finished = false;
  const finish = () => {
    clearTimeout(deadline);
    if (finished) return;
    finished = true;
    hub.disconnect(peer.id);
    onClosed();
  };
  socket.onopen = () => hub.connect(peer);
  socket.onmessage = (event: MessageEvent<unknown>) => {
    const data = event.data;
    if (typeof data !== "string") {
      peer.close(CLOSE_CODES.unsupportedData, "Text frames only");
      return;
    }
    if (utf8Length(data, MAX_FRAME_BYTES_HARD) > MAX_FRAME_BYTES_HARD) {
      peer.close(CLOSE_CODES.tooBig, "Frame too large");
      return;
    }
    try {
      hub.receive(peer.id, parseClientMessage(data));
    } catch (error) {
      if (error instanceof ProtocolError) {
        hub.refuse(peer.id, error);
        return;
      }
      // A bug must cost one reply, never the process and everyone's chat.
      onUnexpectedError(error);
      hub.replyError(
        peer,
        new ProtocolError("server_error", "The server could not handle that"),
      );
    }
  };
  // Deno may report one socket's end more than once; finish runs once.
  socket.onclose = finish;
  socket.onerror = () => {};
  return response;
}
