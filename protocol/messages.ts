/**
 * The wire protocol, defined once and imported by both the server and the
 * browser client. Every frame is one JSON object tagged by `type`.
 * `docs/PROTOCOL.md` documents each message with an example; keep the two in
 * step.
 *
 * This module has no I/O and no runtime-specific APIs so it type-checks
 * against both Deno's and the DOM's libraries.
 */

/** Bumped whenever a change would break an older client or server. */
export const PROTOCOL_VERSION = 2;

// ---------------------------------------------------------------------------
// Limits. Frame sizes are UTF-8 bytes; text and name lengths are code points.
// ---------------------------------------------------------------------------

/** Longest chat message text, in characters (code points). */
export const MAX_TEXT_CHARS = 4000;
/** Inbound frames larger than this get an error reply and are not parsed. */
export const MAX_FRAME_BYTES = 16 * 1024;
/** Inbound frames larger than this close the connection (1009). */
export const MAX_FRAME_BYTES_HARD = 64 * 1024;
/** Client message ids: short opaque strings chosen by the client. */
export const MAX_CLIENT_ID_CHARS = 64;
/** Names, after normalisation, in characters (code points). */
export const MIN_NAME_CHARS = 1;
export const MAX_NAME_CHARS = 32;
/** Room names, after lower-casing. */
export const MAX_ROOM_CHARS = 40;
/** Resume tokens: the server issues 64 hex characters (256 bits). */
export const MAX_TOKEN_CHARS = 128;
/** How many recent messages a joining client receives. */
export const HISTORY_ON_JOIN = 100;
/** A `presence` summary lists at most this many names per direction. */
export const PRESENCE_LISTED = 20;
/**
 * Members per frame in a welcome and the `members` frames after it. Deno
 * keeps each socket's write buffer as large as the largest frame it ever
 * sent, so a 1,000-person list in one welcome would cost every joiner ~50 KB
 * for as long as it stays connected; in slices of this size it costs ~1 KB.
 */
export const MEMBERS_PER_FRAME = 20;
/**
 * Members in one answer to a `members` request. A join costs the server the
 * welcome's first MEMBERS_PER_FRAME alone; the rest of a big room's list is
 * read only by those who scroll through it, a page at a time.
 */
export const MEMBERS_PER_PAGE = 100;
/** Messages in one answer to an `older` request (scrolling back). */
export const OLDER_PER_PAGE = 50;
/**
 * History per frame, in characters of JSON, for the same reason: the welcome
 * holds the oldest messages up to this size and `history` frames the rest
 * (a frame always holds at least one message, however long).
 */
export const HISTORY_FRAME_CHARS = 4_096;
/** How long after sending a message its author may still edit it. */
export const EDIT_WINDOW_MS = 15 * 60_000;
/** Longest mute or kick a moderator can give, in minutes (a week). */
export const MAX_MODERATION_MINUTES = 7 * 24 * 60;
/** Moderator keys: the server issues 32 base64url characters (192 bits). */
export const MAX_MODERATOR_KEY_CHARS = 128;
/** The room everyone lands in when the URL names none. */
export const DEFAULT_ROOM = "main";

// ---------------------------------------------------------------------------
// Error and close codes.
// ---------------------------------------------------------------------------

/** Stable error codes carried by `error` messages. Clients translate them. */
export const ERROR_CODES = [
  "bad_json",
  "bad_message",
  "unknown_type",
  "frame_too_large",
  "hello_required",
  "already_joined",
  "room_invalid",
  "text_empty",
  "text_too_long",
  "name_empty",
  "name_too_long",
  "name_invalid",
  "name_reserved",
  "name_taken",
  "rate_limited",
  "server_error",
  /**
   * The message could not be stored right now (a shared store is
   * unreachable); nothing was stored: send the same id again after
   * `retryAfterMs`.
   */
  "store_unavailable",
  /** An edit, delete or moderation this user may not make. */
  "not_allowed",
  /** The message an edit or delete names is not kept (or is not a message). */
  "not_found",
  /** The author's edit window (EDIT_WINDOW_MS) has passed. */
  "edit_window_passed",
  /** A moderator muted this user; `retryAfterMs` says for how long. */
  "muted",
  /** A moderator kicked this user out of the room; see `retryAfterMs`. */
  "kicked",
  /** A moderator locked the room: nobody new may join. */
  "room_locked",
  /** The moderator key in a hello is not (or no longer) valid. */
  "moderator_key_invalid",
] as const;
export type ErrorCode = typeof ERROR_CODES[number];

/** WebSocket close codes the server uses, beyond the standard ones. */
export const CLOSE_CODES = {
  /** Normal closure. */
  normal: 1000,
  /** The server is shutting down or restarting; reconnect soon. */
  goingAway: 1001,
  /** A binary frame arrived; the protocol is text only. */
  unsupportedData: 1003,
  /** The peer broke a rule (abuse, slow reader). */
  policyViolation: 1008,
  /** A frame exceeded MAX_FRAME_BYTES_HARD. */
  tooBig: 1009,
  /** A server bug while sending to this connection; reconnect and resume. */
  internalError: 1011,
  /** No hello arrived in time. */
  helloTimeout: 4000,
  /** The same session was resumed on another connection; do not reconnect. */
  replaced: 4001,
  /** A moderator kicked this user; do not reconnect before the time is up. */
  kicked: 4002,
  /** A moderator locked the room; this connection was not in it. */
  locked: 4003,
} as const;

/** Thrown by the validators and the chat core; turned into an `error` reply. */
export class ProtocolError extends Error {
  readonly code: ErrorCode;
  /** When the caller may try again, for `rate_limited`. */
  readonly retryAfterMs?: number;
  /** The `send` id or message type the error answers, when known. */
  ref?: string;
  constructor(code: ErrorCode, message: string, retryAfterMs?: number) {
    super(message);
    this.name = "ProtocolError";
    this.code = code;
    if (retryAfterMs !== undefined) this.retryAfterMs = retryAfterMs;
  }
}

// ---------------------------------------------------------------------------
// Shared shapes.
// ---------------------------------------------------------------------------

/** A user as others see them: `id` is public and never a credential. */
export interface Member {
  id: string;
  name: string;
}

/** A chat message as stored and delivered. Order and time are the server's. */
export interface ChatMessage {
  /** Per-room sequence number, strictly increasing from 1. */
  seq: number;
  /** Server time, milliseconds since the Unix epoch. */
  time: number;
  /** The author's public id and name at the time of sending. */
  from: Member;
  /** The id the sending client chose; lets the author match its outbox. */
  clientId: string;
  /** For a deletion, empty. */
  text: string;
  /**
   * Absent for a message. An entry that changes an earlier message of the
   * room instead: `edit` replaces the text of message `target` with this
   * entry's text, `delete` removes it. Both are log entries with their own
   * seq, so history, paging and resume carry them like messages.
   */
  kind?: MessageChangeKind;
  /** The seq of the message an edit or delete changes. */
  target?: number;
  /** A deletion made by a moderator rather than by the author. */
  moderator?: true;
}

export type MessageChangeKind = "edit" | "delete";

// ---------------------------------------------------------------------------
// Client → server.
// ---------------------------------------------------------------------------

/** First message on every connection: join a room, maybe resuming. */
export interface HelloMessage {
  type: "hello";
  room: string;
  /** Resume a session issued by an earlier `welcome`. */
  resumeToken?: string;
  /** Highest `seq` the client has seen, so the server can replay the gap. */
  lastSeq?: number;
  /** The epoch `lastSeq` belongs to; a different epoch means a new history. */
  epoch?: string;
  /** A moderator key from the moderator link: act as a moderator. */
  moderatorKey?: string;
  /**
   * This browser tab's id (random, kept across its reloads). A resume of a
   * connected session from another tab joins it as one more connection of
   * the same person instead of replacing the first.
   */
  tab?: string;
}

export interface SendMessage {
  type: "send";
  /** Client-chosen id; resending the same id never stores a message twice. */
  id: string;
  text: string;
}

export interface RenameMessage {
  type: "rename";
  name: string;
}

/** "I am typing"; clients send it at most every few seconds. */
export interface TypingMessage {
  type: "typing";
}

/**
 * The next page of the member list, after the welcome's first one: `after`
 * is the cursor the welcome (`membersCursor`) or the last page (`next`)
 * gave. Answered with a `members` message.
 */
export interface MembersRequest {
  type: "members";
  after: number;
}

/**
 * Messages before seq `before`, for a reader scrolling back past what the
 * page holds. Answered with an `older` message.
 */
export interface OlderRequest {
  type: "older";
  before: number;
}

/**
 * Replaces the text of one's own message `target`, within EDIT_WINDOW_MS of
 * sending it. `id` is an idempotency key like a send's; answered with an
 * `ack`, and the room gets the edit as a log entry.
 */
export interface EditMessage {
  type: "edit";
  id: string;
  target: number;
  text: string;
}

/** Deletes message `target`: one's own, or anyone's for a moderator. */
export interface DeleteMessage {
  type: "delete";
  id: string;
  target: number;
}

export const MODERATION_ACTIONS = [
  "mute",
  "unmute",
  "kick",
  "unkick",
  "lock",
  "unlock",
  "clear",
] as const;
export type ModerationAction = typeof MODERATION_ACTIONS[number];

/**
 * A moderator's action on a member (`user`: their public id) or the room.
 * `minutes` for mute and kick (1 to MAX_MODERATION_MINUTES).
 */
export interface ModerateMessage {
  type: "moderate";
  action: ModerationAction;
  user?: string;
  minutes?: number;
}

export type ClientMessage =
  | EditMessage
  | DeleteMessage
  | ModerateMessage
  | OlderRequest
  | HelloMessage
  | SendMessage
  | RenameMessage
  | TypingMessage
  | MembersRequest;

// ---------------------------------------------------------------------------
// Server → client.
// ---------------------------------------------------------------------------

export interface WelcomeMessage {
  type: "welcome";
  protocol: number;
  room: string;
  /** Identifies this room's history; changes if history was lost. */
  epoch: string;
  you: Member;
  /** Secret; present it in the next `hello` to resume. Rotated every time. */
  resumeToken: string;
  /** Whether this connection continued an earlier session. */
  resumed: boolean;
  /**
   * For a resume: true when `history` holds exactly the messages after the
   * client's `lastSeq`; false when that gap could not be filled and `history`
   * is the recent history instead. Always false for a fresh session.
   */
  recovered: boolean;
  /**
   * The oldest messages of the history, up to HISTORY_FRAME_CHARS of JSON;
   * the rest follow in `history` frames.
   */
  history: ChatMessage[];
  /** Whether `history` frames with the rest of the history follow at once. */
  moreHistory: boolean;
  /** The first MEMBERS_PER_FRAME members, in the order they joined. */
  members: Member[];
  /**
   * Whether more are listed; they are not sent unless asked for, with a
   * `members` request from `membersCursor` (a list people scroll to).
   */
  moreMembers: boolean;
  /** How many members are listed in all (the room's online count). */
  online?: number;
  /** Where the next page of the list starts (`members` request `after`). */
  membersCursor?: number;
  /** Typing notices expire after this many milliseconds. */
  typingTimeoutMs: number;
  /** The hello's moderator key was accepted: this user is a moderator. */
  moderator?: boolean;
  /** A moderator locked the room (nobody new may join). */
  locked?: boolean;
}

/**
 * The rest of a welcome's history, oldest first, sent right after it and
 * before anything else.
 */
export interface HistoryMessage {
  type: "history";
  messages: ChatMessage[];
  /** Whether another `history` frame follows this one. */
  more: boolean;
}

/**
 * A page of the member list, answering a `members` request; made from the
 * room as it is then (the events around it keep the list current, see
 * docs/PROTOCOL.md).
 */
export interface MembersMessage {
  type: "members";
  members: Member[];
  /** Whether more members follow this page. */
  more: boolean;
  /** The cursor for the next request. */
  next?: number;
}

/**
 * A page of older messages, answering an `older` request: up to
 * OLDER_PER_PAGE messages before `before`, oldest first. `start`: the
 * room's history begins here (nothing older is kept). In `epoch`, which
 * may differ from the client's if the history was replaced meanwhile.
 */
export interface OlderMessage {
  type: "older";
  epoch: string;
  before: number;
  messages: ChatMessage[];
  start: boolean;
}

export interface ChatEvent {
  type: "chat";
  message: ChatMessage;
}

/** The server stored a `send`; `seq` is the same for every resend of `id`. */
export interface AckMessage {
  type: "ack";
  id: string;
  seq: number;
  time: number;
}

export interface JoinedEvent {
  type: "joined";
  member: Member;
}

export interface LeftEvent {
  type: "left";
  member: Member;
}

export interface RenamedEvent {
  type: "renamed";
  id: string;
  from: string;
  to: string;
}

/**
 * Several joins and leaves at once. A busy room reports presence in these
 * summaries (at most every PRESENCE_WINDOW_MS) instead of one event per
 * person, so a crowd arriving does not cost every member a frame per
 * arrival. Lists are capped at PRESENCE_LISTED; the counts are exact.
 */
export interface PresenceEvent {
  type: "presence";
  joined: Member[];
  left: Member[];
  joinedCount: number;
  leftCount: number;
  /** Members in the room after these changes. */
  online: number;
}

export interface TypingEvent {
  type: "typing";
  member: Member;
}

/**
 * A moderator acted: every member of the room is told (deletions arrive as
 * log entries instead). `member`: whom it was about, for mute and kick.
 */
export interface ModeratedEvent {
  type: "moderated";
  action: ModerationAction;
  by: Member;
  member?: Member;
  minutes?: number;
}

export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  /** English text for logs and tools; clients show their own translation. */
  message: string;
  /** The `send` id or message type this error answers, when there is one. */
  ref?: string;
  retryAfterMs?: number;
}

export type ServerMessage =
  | WelcomeMessage
  | HistoryMessage
  | MembersMessage
  | OlderMessage
  | ChatEvent
  | AckMessage
  | JoinedEvent
  | LeftEvent
  | RenamedEvent
  | PresenceEvent
  | TypingEvent
  | ModeratedEvent
  | ErrorMessage;

/**
 * Several room events in one frame, in order. A busy room coalesces what it
 * publishes within a few milliseconds into one batch per client, because
 * per-frame cost, not bytes, limits fan-out. Never nested; never contains a
 * welcome.
 */
export interface BatchMessage {
  type: "batch";
  messages: ServerMessage[];
}

/** What one server frame holds: a single message or a batch of them. */
export type ServerFrame = ServerMessage | BatchMessage;

// ---------------------------------------------------------------------------
// Validation. Never cast parsed JSON: every field is checked here.
// ---------------------------------------------------------------------------

type Fields = Record<string, unknown>;

function isPlainObject(value: unknown): value is Fields {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return false;
  }
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function bad(message: string): ProtocolError {
  return new ProtocolError("bad_message", message);
}

/** True for strings that are well-formed UTF-16 (no lone surrogates). */
export function isWellFormed(text: string): boolean {
  // A lone surrogate cannot be encoded as UTF-8; reject rather than mangle.
  return !/\p{Surrogate}/u.test(text);
}

function stringField(
  fields: Fields,
  key: string,
  maxUnits: number,
  optional: false,
): string;
function stringField(
  fields: Fields,
  key: string,
  maxUnits: number,
  optional: true,
): string | undefined;
function stringField(
  fields: Fields,
  key: string,
  maxUnits: number,
  optional: boolean,
): string | undefined {
  const value = fields[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== "string") {
    throw bad(`Field "${key}" must be a string`);
  }
  if (value.length > maxUnits) {
    throw bad(`Field "${key}" is longer than ${maxUnits} characters`);
  }
  if (!isWellFormed(value)) {
    throw bad(`Field "${key}" contains a lone surrogate`);
  }
  return value;
}

function onlyKeys(fields: Fields, allowed: readonly string[]): void {
  for (const key of Object.keys(fields)) {
    if (!allowed.includes(key)) throw bad(`Unknown field "${key}"`);
  }
}

const CLIENT_FIELDS: Record<ClientMessage["type"], readonly string[]> = {
  hello: [
    "type",
    "room",
    "resumeToken",
    "lastSeq",
    "epoch",
    "moderatorKey",
    "tab",
  ],
  edit: ["type", "id", "target", "text"],
  delete: ["type", "id", "target"],
  moderate: ["type", "action", "user", "minutes"],
  send: ["type", "id", "text"],
  rename: ["type", "name"],
  typing: ["type"],
  members: ["type", "after"],
  older: ["type", "before"],
};

function isClientType(type: unknown): type is ClientMessage["type"] {
  return typeof type === "string" && Object.hasOwn(CLIENT_FIELDS, type);
}

/**
 * Parses one text frame into a typed client message, or throws a
 * `ProtocolError`. Size is checked before JSON parsing so an oversized frame
 * costs nothing; content rules that depend on room state (name taken, …) are
 * the chat core's job, not this function's.
 */
export function parseClientMessage(frame: string): ClientMessage {
  const bytes = utf8Length(frame, MAX_FRAME_BYTES);
  if (bytes > MAX_FRAME_BYTES) {
    throw new ProtocolError(
      "frame_too_large",
      `Frame of more than ${MAX_FRAME_BYTES} bytes`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    throw new ProtocolError("bad_json", "Frame is not valid JSON");
  }
  // JSON.parse keeps the last of repeated keys, so {"type":"rename",
  // "type":"send",…} would be taken for a send: refuse such frames.
  if (isPlainObject(data)) {
    if (topLevelKeys(frame) !== Object.keys(data).length) {
      const keys: string[] = [];
      topLevelKeys(frame, keys);
      const seen = new Set<string>();
      const repeated = keys.find((key) => seen.size === seen.add(key).size);
      throw bad(`Key ${JSON.stringify(repeated ?? "")} appears more than once`);
    }
  }
  return validateClientMessage(data);
}

/**
 * Counts the keys of the top-level object in `json` (valid JSON, already
 * parsed), pushing each, decoded, onto `keys` if given. One pass over the
 * text, allocating nothing unless asked: this runs for every frame.
 */
export function topLevelKeys(json: string, keys?: string[]): number {
  let depth = 0;
  let count = 0;
  /** At depth 1, whether the next string is a key (after `{` or `,`). */
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; i < json.length; i++) {
        const d = json.charCodeAt(i);
        if (d === 0x5c /* \ */) i++;
        else if (d === 0x22) break;
      }
      if (depth === 1 && expectKey) {
        count++;
        keys?.push(JSON.parse(json.slice(start, i + 1)) as string);
        expectKey = false;
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
      if (depth === 1) expectKey = c === 0x7b;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    } else if (c === 0x2c /* , */ && depth === 1) {
      expectKey = true;
    }
  }
  return count;
}

/**
 * UTF-8 length of `text`, counting no further than just past `limit`: a
 * UTF-16 unit encodes to 1–3 bytes, so most frames are decided without
 * looking at every character.
 */
export function utf8Length(text: string, limit: number): number {
  if (text.length > limit) return text.length;
  if (text.length * 3 <= limit) return text.length;
  let bytes = 0;
  for (let i = 0; i < text.length && bytes <= limit; i++) {
    const unit = text.charCodeAt(i);
    // A surrogate pair is 4 bytes, 2 per unit.
    bytes += unit < 0x80
      ? 1
      : unit < 0x800
      ? 2
      : unit >= 0xD800 && unit < 0xE000
      ? 2
      : 3;
  }
  return bytes;
}

/** Validates an already-parsed value; see `parseClientMessage`. */
export function validateClientMessage(data: unknown): ClientMessage {
  if (!isPlainObject(data)) throw bad("Message must be a JSON object");
  const type = data["type"];
  if (type === undefined) throw bad('Message has no "type"');
  if (!isClientType(type)) {
    throw new ProtocolError(
      "unknown_type",
      // Describe only a string: String() of a deeply nested array recurses.
      typeof type === "string"
        ? `Unknown message type ${JSON.stringify(type.slice(0, 40))}`
        : `Message "type" must be a string, not ${
          Array.isArray(type) ? "an array" : typeof type
        }`,
    );
  }
  onlyKeys(data, CLIENT_FIELDS[type]);
  switch (type) {
    case "hello": {
      // Room and name limits are in code points, checked after NFKC; the
      // bounds here only keep absurd input out.
      const room = stringField(data, "room", MAX_ROOM_CHARS * 4, false);
      const hello: HelloMessage = { type, room };
      const token = stringField(data, "resumeToken", MAX_TOKEN_CHARS, true);
      if (token !== undefined) hello.resumeToken = token;
      const lastSeq = data["lastSeq"];
      if (lastSeq !== undefined) {
        if (
          typeof lastSeq !== "number" || !Number.isSafeInteger(lastSeq) ||
          lastSeq < 0
        ) {
          throw bad('Field "lastSeq" must be a non-negative integer');
        }
        hello.lastSeq = lastSeq;
      }
      const epoch = stringField(data, "epoch", 64, true);
      if (epoch !== undefined) hello.epoch = epoch;
      const key = stringField(
        data,
        "moderatorKey",
        MAX_MODERATOR_KEY_CHARS,
        true,
      );
      if (key !== undefined) hello.moderatorKey = key;
      const tab = stringField(data, "tab", MAX_CLIENT_ID_CHARS, true);
      if (tab !== undefined) hello.tab = tab;
      return hello;
    }
    case "send": {
      const id = clientIdField(data);
      return { type, id, text: textField(data, id) };
    }
    case "edit": {
      const id = clientIdField(data);
      const target = seqField(data, "target", id);
      return { type, id, target, text: textField(data, id) };
    }
    case "delete": {
      const id = clientIdField(data);
      return { type, id, target: seqField(data, "target", id) };
    }
    case "moderate": {
      const action = data["action"];
      if (
        typeof action !== "string" ||
        !(MODERATION_ACTIONS as readonly string[]).includes(action)
      ) {
        throw bad(
          `Field "action" must be one of ${MODERATION_ACTIONS.join(", ")}`,
        );
      }
      const moderate: ModerateMessage = {
        type,
        action: action as ModerationAction,
      };
      const onMember = action !== "lock" && action !== "unlock" &&
        action !== "clear";
      const user = stringField(data, "user", 64, true);
      if (onMember !== (user !== undefined)) {
        throw bad(
          onMember
            ? `Field "user" is required for ${action}`
            : `Field "user" is not used by ${action}`,
        );
      }
      if (user !== undefined) moderate.user = user;
      const minutes = data["minutes"];
      const timed = action === "mute" || action === "kick";
      if (timed) {
        if (
          typeof minutes !== "number" || !Number.isSafeInteger(minutes) ||
          minutes < 1 || minutes > MAX_MODERATION_MINUTES
        ) {
          throw bad(
            `Field "minutes" must be a whole number from 1 to ${MAX_MODERATION_MINUTES}`,
          );
        }
        moderate.minutes = minutes;
      } else if (minutes !== undefined) {
        throw bad(`Field "minutes" is not used by ${action}`);
      }
      return moderate;
    }
    case "rename":
      return {
        type,
        name: stringField(data, "name", MAX_NAME_CHARS * 4, false),
      };
    case "typing":
      return { type };
    case "older": {
      const before = data["before"];
      if (
        typeof before !== "number" || !Number.isSafeInteger(before) ||
        before < 1
      ) {
        throw bad('Field "before" must be a positive integer');
      }
      return { type, before };
    }
    case "members": {
      const after = data["after"];
      if (
        typeof after !== "number" || !Number.isSafeInteger(after) || after < 0
      ) {
        throw bad('Field "after" must be a non-negative integer');
      }
      return { type, after };
    }
  }
}

/** The `id` of a send, edit or delete: 1–MAX_CLIENT_ID_CHARS characters. */
function clientIdField(data: Fields): string {
  const id = stringField(data, "id", MAX_CLIENT_ID_CHARS, false);
  if (id.length === 0) {
    throw bad(`Field "id" must be 1–${MAX_CLIENT_ID_CHARS} characters`);
  }
  return id;
}

/** A message's text, checked; errors name the request they answer. */
function textField(data: Fields, id: string): string {
  try {
    // Bounded by the frame size; checkText counts code points exactly.
    return checkText(stringField(data, "text", MAX_FRAME_BYTES, false));
  } catch (error) {
    // Tell the client which message was refused, so it can mark it.
    if (error instanceof ProtocolError) error.ref = id;
    throw error;
  }
}

function seqField(data: Fields, key: string, id: string): number {
  const value = data[key];
  if (
    typeof value !== "number" || !Number.isSafeInteger(value) || value < 1
  ) {
    const error = bad(`Field "${key}" must be a positive integer`);
    error.ref = id;
    throw error;
  }
  return value;
}

/** C0 controls other than tab and newline, DEL and C1 controls. */
// deno-lint-ignore no-control-regex -- matching controls is the point.
const CONTROL_CHARS = /[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/gu;

/**
 * Normalises chat text: carriage returns become newlines, other control
 * characters are stripped (documented in PROTOCOL.md), and text that is empty
 * or longer than MAX_TEXT_CHARS is refused.
 */
export function checkText(raw: string): string {
  const text = raw.replace(/\r\n?/g, "\n").replace(CONTROL_CHARS, "");
  // Format characters (zero-width, bidi controls) alone show nothing.
  if (text.replace(/[\s\p{Cf}]/gu, "").length === 0) {
    throw new ProtocolError("text_empty", "Message text is empty");
  }
  const chars = countCodePoints(text);
  if (chars > MAX_TEXT_CHARS) {
    throw new ProtocolError(
      "text_too_long",
      `Message has ${chars} characters; the limit is ${MAX_TEXT_CHARS}`,
    );
  }
  return text;
}

/** Length in code points, so an emoji counts as one character. */
export function countCodePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}

/**
 * Lower-cases and checks a room name: 1–40 letters (with their combining
 * marks), digits, `-` or `_`, starting with a letter or digit. Throws
 * `room_invalid` otherwise.
 */
/**
 * Private rooms: "p-" and 20 base-32 characters (100 random bits), so the
 * address cannot be guessed; otherwise rooms like any other.
 */
const PRIVATE_ROOM = /^p-[a-z2-7]{20}$/;

export function isPrivateRoomName(room: string): boolean {
  return PRIVATE_ROOM.test(room);
}

/** A new private room's name from 13 random bytes (100 of their bits). */
export function privateRoomName(random: Uint8Array): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz234567";
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of random) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5 && out.length < 20) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  if (out.length < 20) throw new RangeError("privateRoomName needs 13 bytes");
  return `p-${out}`;
}

export function normalizeRoomName(raw: string): string {
  const room = raw.normalize("NFKC").trim().toLowerCase();
  if (
    countCodePoints(room) > MAX_ROOM_CHARS ||
    !/^[\p{Ll}\p{Lo}\p{Nd}][\p{Ll}\p{Lo}\p{M}\p{Nd}_-]*$/u.test(room)
  ) {
    throw new ProtocolError(
      "room_invalid",
      `Room name "${
        raw.slice(0, MAX_ROOM_CHARS)
      }" is not valid: use 1–${MAX_ROOM_CHARS} letters, digits, "-" or "_", starting with a letter or digit`,
    );
  }
  return room;
}

// ---------------------------------------------------------------------------
// Server message parsing, for the client and for tests. The server is trusted
// less than it might be: a malformed frame is reported, not cast.
// ---------------------------------------------------------------------------

const SERVER_TYPES: ReadonlySet<string> = new Set<ServerMessage["type"]>([
  "welcome",
  "history",
  "members",
  "older",
  "chat",
  "ack",
  "joined",
  "left",
  "renamed",
  "presence",
  "typing",
  "moderated",
  "error",
]);

/** Shape checks, shared with the client for what it reads from storage. */
export function isMember(value: unknown): value is Member {
  return isPlainObject(value) && typeof value["id"] === "string" &&
    typeof value["name"] === "string";
}

export function isChatMessage(value: unknown): value is ChatMessage {
  return isPlainObject(value) && typeof value["seq"] === "number" &&
    typeof value["time"] === "number" && isMember(value["from"]) &&
    typeof value["clientId"] === "string" &&
    typeof value["text"] === "string" &&
    (value["kind"] === undefined ||
      ((value["kind"] === "edit" || value["kind"] === "delete") &&
        typeof value["target"] === "number")) &&
    (value["moderator"] === undefined || value["moderator"] === true);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === "string" &&
    (ERROR_CODES as readonly string[]).includes(value);
}

/**
 * Parses a server frame into the messages it holds (one, or a batch's).
 * Returns null when the frame itself is malformed, so a client can log and
 * ignore it instead of crashing; inside a batch, items it does not understand
 * are skipped and the rest kept.
 */
export function parseServerFrame(frame: string): ServerMessage[] | null {
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return null;
  }
  if (isPlainObject(data) && data["type"] === "batch") {
    const items = data["messages"];
    if (!Array.isArray(items)) return null;
    const messages: ServerMessage[] = [];
    for (const item of items) {
      // An item this client does not understand (a newer server's type) is
      // skipped, like a frame of that type would be, not the whole batch.
      const message = toServerMessage(item);
      // A welcome and its member list are never batched.
      if (
        message && message.type !== "welcome" &&
        message.type !== "history" && message.type !== "members"
      ) {
        messages.push(message);
      }
    }
    return messages;
  }
  const message = toServerMessage(data);
  return message ? [message] : null;
}

/**
 * Parses a frame holding exactly one server message (not a batch). Returns
 * null for anything else.
 */
export function parseServerMessage(frame: string): ServerMessage | null {
  let data: unknown;
  try {
    data = JSON.parse(frame);
  } catch {
    return null;
  }
  return toServerMessage(data);
}

function toServerMessage(data: unknown): ServerMessage | null {
  if (!isPlainObject(data) || typeof data["type"] !== "string") return null;
  if (!SERVER_TYPES.has(data["type"])) return null;
  const d = data;
  switch (d["type"]) {
    case "welcome":
      if (
        typeof d["protocol"] === "number" && typeof d["room"] === "string" &&
        typeof d["epoch"] === "string" && isMember(d["you"]) &&
        typeof d["resumeToken"] === "string" &&
        typeof d["resumed"] === "boolean" &&
        typeof d["recovered"] === "boolean" && Array.isArray(d["history"]) &&
        d["history"].every(isChatMessage) &&
        (d["moreHistory"] === undefined ||
          typeof d["moreHistory"] === "boolean") &&
        Array.isArray(d["members"]) &&
        d["members"].every(isMember) &&
        (d["moreMembers"] === undefined ||
          typeof d["moreMembers"] === "boolean") &&
        (d["online"] === undefined || typeof d["online"] === "number") &&
        (d["membersCursor"] === undefined ||
          typeof d["membersCursor"] === "number") &&
        typeof d["typingTimeoutMs"] === "number"
      ) {
        return {
          type: "welcome",
          protocol: d["protocol"],
          room: d["room"],
          epoch: d["epoch"],
          you: d["you"],
          resumeToken: d["resumeToken"],
          resumed: d["resumed"],
          recovered: d["recovered"],
          history: d["history"],
          moreHistory: d["moreHistory"] ?? false,
          members: d["members"],
          // A version 1 server sent the whole list in the welcome.
          moreMembers: d["moreMembers"] ?? false,
          ...(typeof d["online"] === "number" ? { online: d["online"] } : {}),
          ...(typeof d["membersCursor"] === "number"
            ? { membersCursor: d["membersCursor"] }
            : {}),
          typingTimeoutMs: d["typingTimeoutMs"],
          ...(d["moderator"] === true ? { moderator: true } : {}),
          ...(d["locked"] === true ? { locked: true } : {}),
        };
      }
      return null;
    case "history":
      return Array.isArray(d["messages"]) &&
          d["messages"].every(isChatMessage) && typeof d["more"] === "boolean"
        ? { type: "history", messages: d["messages"], more: d["more"] }
        : null;
    case "members":
      return Array.isArray(d["members"]) && d["members"].every(isMember) &&
          typeof d["more"] === "boolean" &&
          (d["next"] === undefined || typeof d["next"] === "number")
        ? {
          type: "members",
          members: d["members"],
          more: d["more"],
          ...(typeof d["next"] === "number" ? { next: d["next"] } : {}),
        }
        : null;
    case "older":
      return typeof d["epoch"] === "string" &&
          typeof d["before"] === "number" && Array.isArray(d["messages"]) &&
          d["messages"].every(isChatMessage) && typeof d["start"] === "boolean"
        ? {
          type: "older",
          epoch: d["epoch"],
          before: d["before"],
          messages: d["messages"],
          start: d["start"],
        }
        : null;
    case "chat":
      return isChatMessage(d["message"])
        ? { type: "chat", message: d["message"] }
        : null;
    case "ack":
      return typeof d["id"] === "string" && typeof d["seq"] === "number" &&
          typeof d["time"] === "number"
        ? { type: "ack", id: d["id"], seq: d["seq"], time: d["time"] }
        : null;
    case "joined":
    case "left":
    case "typing":
      return isMember(d["member"])
        ? { type: d["type"], member: d["member"] }
        : null;
    case "presence": {
      const { joined, left, joinedCount, leftCount, online } = d;
      return Array.isArray(joined) && joined.every(isMember) &&
          Array.isArray(left) && left.every(isMember) &&
          typeof joinedCount === "number" && typeof leftCount === "number" &&
          typeof online === "number"
        ? { type: "presence", joined, left, joinedCount, leftCount, online }
        : null;
    }
    case "renamed":
      return typeof d["id"] === "string" && typeof d["from"] === "string" &&
          typeof d["to"] === "string"
        ? { type: "renamed", id: d["id"], from: d["from"], to: d["to"] }
        : null;
    case "moderated": {
      const { action, by, member, minutes } = d;
      if (
        typeof action !== "string" ||
        !(MODERATION_ACTIONS as readonly string[]).includes(action) ||
        !isMember(by) || (member !== undefined && !isMember(member)) ||
        (minutes !== undefined && typeof minutes !== "number")
      ) {
        return null;
      }
      const event: ModeratedEvent = {
        type: "moderated",
        action: action as ModerationAction,
        by,
      };
      if (member !== undefined) event.member = member;
      if (minutes !== undefined) event.minutes = minutes;
      return event;
    }
    case "error": {
      if (!isErrorCode(d["code"]) || typeof d["message"] !== "string") {
        return null;
      }
      const error: ErrorMessage = {
        type: "error",
        code: d["code"],
        message: d["message"],
      };
      if (typeof d["ref"] === "string") error.ref = d["ref"];
      if (typeof d["retryAfterMs"] === "number") {
        error.retryAfterMs = d["retryAfterMs"];
      }
      return error;
    }
    default:
      return null;
  }
}
