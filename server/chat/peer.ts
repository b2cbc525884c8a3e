/**
 * The chat core's whole view of a connection: an id, a way to send a frame
 * that is already serialised, and a way to close. The WebSocket edge adapts
 * real sockets to it; unit tests use plain objects.
 */
export interface Peer {
  readonly id: string;
  /** The client's address as the edge saw it, when known (kicks use it). */
  readonly address?: string;
  send(frame: string): void;
  /**
   * Sends these frames in order, each made only when the peer is ready for
   * it: a long series (a big room's member list) is produced at the speed
   * the client reads instead of all at once in server memory. Frames sent
   * afterwards go out after the series.
   */
  stream(frames: Iterator<string>): void;
  close(code: number, reason: string): void;
}
