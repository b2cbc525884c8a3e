/**
 * The chat core's whole view of a connection: an id, a way to send a frame
 * that is already serialised, and a way to close. The WebSocket edge adapts
 * real sockets to it; unit tests use plain objects.
 */
export interface Peer {
  readonly id: string;
  send(frame: string): void;
  close(code: number, reason: string): void;
}
