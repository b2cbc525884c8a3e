/**
 * The client's state and the pure reducer over everything that changes it:
 * server messages and local events (connection status, outbox, language,
 * clock ticks, visibility, the rename dialog). No DOM and no I/O, so tests
 * drive it with plain objects.
 */

import type { NameProblem } from "./name_check.ts";
import { mentionsYou } from "./mentions.ts";
import type {
  ChatMessage,
  ErrorCode,
  Member,
  ModerationAction,
  ServerMessage,
  WelcomeMessage,
} from "../protocol/messages.ts";
import type { ConnectionStatus } from "./connection.ts";
import type { Lang } from "./i18n.ts";
import type { OutboxEntry } from "./outbox.ts";

/** Most list items kept (and so rendered); older ones fall off the top. */
export const MAX_ITEMS = 500;
/** Items kept however far the reader scrolls back (a room keeps 10,000). */
export const MAX_PAGED_ITEMS = 10_500;

export type Notice =
  | { readonly type: "joined"; readonly name: string }
  | { readonly type: "left"; readonly name: string }
  /** Several joins or leaves at once: some names, and how many more. */
  | {
    readonly type: "crowd";
    readonly kind: "joined" | "left";
    readonly names: readonly string[];
    readonly others: number;
  }
  | { readonly type: "renamed"; readonly from: string; readonly to: string }
  | {
    readonly type: "error";
    readonly code: ErrorCode;
    readonly message: string;
  }
  /** Messages between what this tab saw and the history may be missing. */
  | { readonly type: "gap" }
  /** The room's history begins here. */
  | { readonly type: "start" }
  /** Messages below arrived while the tab was away (made by the view). */
  | { readonly type: "new" }
  /** Messages below are of this day (made by the view, not kept here). */
  | { readonly type: "day"; readonly label: string }
  /** The name remembered from earlier is taken here: `name` is kept. */
  | {
    readonly type: "nameKept";
    readonly wanted: string;
    readonly name: string;
  }
  /** Something needed the connection, which is down. */
  | { readonly type: "notConnected" }
  /** A moderator acted on a member or on the room. */
  | {
    readonly type: "moderated";
    readonly action: ModerationAction;
    readonly by: string;
    readonly name?: string;
    /** The member's id, so a moderator can lift a mute or kick from here. */
    readonly userId?: string;
    readonly minutes?: number;
  };

interface ItemBase {
  /** Stable identity for keyed rendering. */
  readonly key: string;
  /** Sort position: a chat message's seq; notices sit between seqs. */
  readonly order: number;
}

export interface ChatItem extends ItemBase {
  readonly kind: "chat";
  readonly message: ChatMessage;
  readonly own: boolean;
  /** Acknowledged in this session: the author sees "sent". */
  readonly sent: boolean;
  /** The latest edit of this message (its text is the one shown). */
  readonly edit?: ChatMessage;
  /** The deletion of this message, if it was deleted. */
  readonly removal?: ChatMessage;
}

/** Edits and deletions of messages not in the list (yet): paging back brings them. */
export interface PendingChange {
  readonly edit?: ChatMessage;
  readonly removal?: ChatMessage;
}

/** Changes kept for messages not loaded; the oldest go first past this. */
const MAX_PENDING_CHANGES = 1_000;

export interface NoticeItem extends ItemBase {
  readonly kind: "notice";
  readonly notice: Notice;
}

export type Item = ChatItem | NoticeItem;

export interface TypingEntry {
  readonly id: string;
  readonly name: string;
  readonly expiresAt: number;
}

export type RenameError = ErrorCode | "not_connected";

export interface RenameState {
  readonly open: boolean;
  readonly error?: RenameError;
  /** What exactly is wrong with the name typed, found before sending. */
  readonly problem?: NameProblem;
  /** For `rate_limited`: how long until a rename is allowed again. */
  readonly retryAfterMs?: number;
}

export interface State {
  /** The room as the URL names it, then as the server spells it. */
  readonly room: string;
  readonly lang: Lang;
  readonly connection: ConnectionStatus;
  /** Clock time of the last event that carried one. */
  readonly now: number;
  readonly you?: Member;
  /** Before the first welcome: the id this tab had, for "own" styling. */
  readonly youId?: string;
  readonly epoch?: string;
  /** Highest seq seen in `epoch`. */
  readonly lastSeq?: number;
  /** Chat messages and notices, ordered by `order`. */
  readonly items: readonly Item[];
  readonly nextKey: number;
  readonly members: readonly Member[];
  /**
   * The room's size when `members` is incomplete: a big room's list is
   * read a page at a time, and a `presence` summary may name only some of
   * a crowd; otherwise undefined.
   */
  readonly online?: number;
  /**
   * Where the next page of a big room's member list starts (a `members`
   * request's `after`), or undefined when the list is complete.
   */
  readonly membersCursor?: number;
  readonly typing: readonly TypingEntry[];
  readonly typingTimeoutMs: number;
  /** Mirror of the outbox; entries not yet in `items` show as pending. */
  readonly outbox: readonly OutboxEntry[];
  readonly rename: RenameState;
  readonly hidden: boolean;
  /** Messages from others that arrived while the tab was hidden. */
  readonly unread: number;
  /** Of those, the ones that mention you (counted apart, shown apart). */
  readonly unreadMentions: number;
  /**
   * The first message that arrived while the tab was last hidden: a "New"
   * line goes above it when the reader comes back.
   */
  readonly newSinceSeq?: number;
  /** The oldest message shown is the room's first (nothing older is kept). */
  readonly historyStart: boolean;
  /** An `older` request is out, for messages before this seq. */
  readonly olderPending?: number;
  /** Messages added by scrolling back: the window grows by as many. */
  readonly pagedIn: number;
  /** Edits and deletions whose message is not in `items`, by its seq. */
  readonly pendingChanges: ReadonlyMap<number, PendingChange>;
  /** This browser's moderator key was accepted. */
  readonly moderator: boolean;
  /** A moderator locked the room. */
  readonly locked: boolean;
}

export type AppEvent =
  | { readonly type: "server"; readonly message: ServerMessage; now: number }
  | {
    readonly type: "connection";
    readonly status: ConnectionStatus;
    readonly now: number;
  }
  | { readonly type: "outbox"; readonly entries: readonly OutboxEntry[] }
  | { readonly type: "lang"; readonly lang: Lang }
  | { readonly type: "tick"; readonly now: number }
  | { readonly type: "visibility"; readonly hidden: boolean }
  | { readonly type: "renameOpen" }
  | { readonly type: "renameClose" }
  | {
    readonly type: "renameError";
    readonly error: RenameError;
    readonly problem?: NameProblem;
  }
  /** An `older` request went out for messages before `before`. */
  | { readonly type: "olderRequested"; readonly before: number }
  /** Claiming the remembered name after a welcome was refused. */
  | { readonly type: "nameClaimRefused"; readonly wanted: string }
  /** A notice of the page's own (no server message behind it). */
  | { readonly type: "notice"; readonly notice: Notice };

export interface InitialStateOptions {
  room: string;
  lang: Lang;
  now: number;
  hidden?: boolean;
  youId?: string;
  epoch?: string;
  lastSeq?: number;
  /** Messages remembered from before a reload. */
  messages?: readonly ChatMessage[];
  outbox?: readonly OutboxEntry[];
}

const DEFAULT_TYPING_TIMEOUT_MS = 5000;

export function initialState(options: InitialStateOptions): State {
  let state: State = {
    room: options.room,
    lang: options.lang,
    connection: { phase: "connecting" },
    now: options.now,
    items: [],
    nextKey: 1,
    members: [],
    typing: [],
    typingTimeoutMs: DEFAULT_TYPING_TIMEOUT_MS,
    outbox: options.outbox ?? [],
    rename: { open: false },
    hidden: options.hidden ?? false,
    unread: 0,
    unreadMentions: 0,
    historyStart: false,
    pagedIn: 0,
    pendingChanges: new Map(),
    moderator: false,
    locked: false,
    ...(options.youId === undefined ? {} : { youId: options.youId }),
    ...(options.epoch === undefined ? {} : { epoch: options.epoch }),
  };
  const messages = options.messages ?? [];
  if (options.lastSeq !== undefined && messages.length > 0) {
    state = { ...state, lastSeq: options.lastSeq };
    state = messages.reduce(
      (next, m) => addEntry(next, m, options.youId, false),
      state,
    );
  }
  return state;
}

/** The reducer: returns `state` itself when an event changes nothing. */
export function reduce(state: State, event: AppEvent): State {
  return window(reduceEvent(state, event));
}

/**
 * Keeps the page's list bounded: MAX_ITEMS, plus what the reader paged in
 * by scrolling back (so paging always works, up to what the room keeps).
 * When the oldest go, the start of the room is no longer shown.
 */
function window(state: State): State {
  const limit = Math.min(MAX_ITEMS + state.pagedIn, MAX_PAGED_ITEMS);
  if (state.items.length <= limit) return state;
  return { ...state, items: state.items.slice(-limit), historyStart: false };
}

function reduceEvent(state: State, event: AppEvent): State {
  switch (event.type) {
    case "server":
      return reduceServer(state, event.message, event.now);
    case "connection":
      return {
        ...state,
        connection: event.status,
        now: event.now,
        typing: event.status.phase === "open" ? state.typing : [],
      };
    case "outbox":
      return event.entries === state.outbox
        ? state
        : { ...state, outbox: event.entries };
    case "lang":
      return event.lang === state.lang ? state : { ...state, lang: event.lang };
    case "tick": {
      const typing = state.typing.filter((t) => t.expiresAt > event.now);
      const countdown = state.connection.phase === "reconnecting";
      if (typing.length === state.typing.length && !countdown) return state;
      return {
        ...state,
        now: event.now,
        typing: typing.length === state.typing.length ? state.typing : typing,
      };
    }
    case "visibility":
      if (event.hidden === state.hidden) return state;
      return {
        ...state,
        hidden: event.hidden,
        unread: 0,
        unreadMentions: 0,
        // Leaving again starts a new "New" line with the next message.
        ...(event.hidden ? { newSinceSeq: undefined } : {}),
      };
    case "renameOpen":
      return { ...state, rename: { open: true } };
    case "renameClose":
      return state.rename.open ? { ...state, rename: { open: false } } : state;
    case "renameError":
      return {
        ...state,
        rename: {
          open: true,
          error: event.error,
          ...(event.problem ? { problem: event.problem } : {}),
        },
      };
    case "olderRequested":
      return { ...state, olderPending: event.before };
    case "notice":
      return addNotice(state, event.notice);
    case "nameClaimRefused":
      return state.you === undefined ? state : addNotice(state, {
        type: "nameKept",
        wanted: event.wanted,
        name: state.you.name,
      });
  }
}

function ownId(state: State): string | undefined {
  return state.you?.id ?? state.youId;
}

function reduceServer(
  state: State,
  message: ServerMessage,
  now: number,
): State {
  switch (message.type) {
    case "welcome":
      return reduceWelcome(state, message, now);
    case "history":
      // The rest of the welcome's history, oldest first: the welcome placed
      // any gap marker from its first message already.
      return addHistory(state, message.messages);
    case "older": {
      if (message.epoch !== state.epoch) {
        // The history was replaced meanwhile: this page belongs to no list.
        return { ...state, olderPending: undefined };
      }
      const you = ownId(state);
      const paged = message.messages.reduce(
        (next, m) => addEntry(next, m, you, false),
        state,
      );
      return {
        ...paged,
        olderPending: undefined,
        pagedIn: state.pagedIn + message.messages.length,
        historyStart: message.start,
      };
    }
    case "members": {
      // A page asked for while scrolling the list. Joins, leaves and renames
      // since the welcome have reached the list as events, so appending
      // those not known yet is enough.
      const known = new Set(state.members.map((m) => m.id));
      const added = message.members.filter((m) => !known.has(m.id));
      const membersCursor = message.more
        ? message.next ?? state.membersCursor
        : undefined;
      return {
        ...state,
        members: added.length === 0
          ? state.members
          : [...state.members, ...added],
        membersCursor,
      };
    }
    case "chat": {
      const m = message.message;
      if (m.kind !== undefined) {
        // An edit or deletion: it changes a message, it is not one.
        return {
          ...addEntry(state, m, ownId(state), false),
          now,
          lastSeq: Math.max(state.lastSeq ?? 0, m.seq),
        };
      }
      const items = addChat(state.items, m, ownId(state), false);
      const own = m.from.id === ownId(state);
      return {
        ...applyPending(state, items, m.seq),
        now,
        lastSeq: Math.max(state.lastSeq ?? 0, m.seq),
        typing: withoutTyping(state.typing, m.from.id),
        unread: state.hidden && !own && items !== state.items
          ? state.unread + 1
          : state.unread,
        unreadMentions: state.hidden && !own && items !== state.items &&
            mentionsYou(m.text, state.you?.name)
          ? state.unreadMentions + 1
          : state.unreadMentions,
        newSinceSeq: state.hidden && !own && items !== state.items &&
            state.newSinceSeq === undefined
          ? m.seq
          : state.newSinceSeq,
      };
    }
    case "ack": {
      const key = chatKey(message.id, true);
      const existing = state.items.find((i) => i.key === key);
      let items = state.items;
      if (existing?.kind === "chat") {
        items = items.map((i) =>
          i === existing ? { ...existing, sent: true } : i
        );
      } else {
        const entry = state.outbox.find((e) => e.id === message.id);
        if (entry === undefined || state.you === undefined) return state;
        items = addChat(
          items,
          {
            seq: message.seq,
            time: message.time,
            from: state.you,
            clientId: entry.id,
            text: entry.text,
          },
          state.you.id,
          true,
        );
      }
      // lastSeq stays put: an ack can overtake room events still waiting in
      // a batch, and resuming from the ack's seq would skip them unseen.
      return { ...state, now, items };
    }
    case "joined": {
      const member = message.member;
      const known = state.members.some((m) => m.id === member.id);
      const members = [
        ...state.members.filter((m) => m.id !== member.id),
        member,
      ];
      // Already listed (the welcome came first): nothing new to announce.
      if (member.id === ownId(state) || known) return { ...state, members };
      return addNotice(
        withOnline({ ...state, members }, state.online, 1),
        { type: "joined", name: member.name },
      );
    }
    case "left": {
      const member = message.member;
      if (member.id === ownId(state)) return state;
      return addNotice(
        withOnline(
          {
            ...state,
            members: state.members.filter((m) => m.id !== member.id),
            typing: withoutTyping(state.typing, member.id),
          },
          state.online,
          -1,
        ),
        { type: "left", name: member.name },
      );
    }
    case "presence":
      return applyPresence(state, message);
    case "moderated": {
      const { action, by, member, minutes } = message;
      if (action === "clear") {
        // The history is gone: the next welcome brings the new, empty one
        // (without a "missing messages" line: nothing is missing).
        return addNotice({
          ...state,
          items: [],
          epoch: undefined,
          lastSeq: undefined,
          pendingChanges: new Map(),
          pagedIn: 0,
          historyStart: true,
        }, { type: "moderated", action, by: by.name });
      }
      const locked = action === "lock"
        ? true
        : action === "unlock"
        ? false
        : state.locked;
      return addNotice({ ...state, locked }, {
        type: "moderated",
        action,
        by: by.name,
        ...(member ? { name: member.name, userId: member.id } : {}),
        ...(minutes === undefined ? {} : { minutes }),
      });
    }
    case "renamed": {
      const { id, from, to } = message;
      const self = state.you?.id === id;
      return addNotice({
        ...state,
        members: state.members.map((m) => m.id === id ? { id, name: to } : m),
        typing: state.typing.map((t) => t.id === id ? { ...t, name: to } : t),
        ...(self && state.you ? { you: { id, name: to } } : {}),
        rename: self ? { open: false } : state.rename,
      }, { type: "renamed", from, to });
    }
    case "typing": {
      const member = message.member;
      if (member.id === ownId(state)) return state;
      return {
        ...state,
        now,
        typing: [...withoutTyping(state.typing, member.id), {
          id: member.id,
          name: member.name,
          expiresAt: now + state.typingTimeoutMs,
        }],
      };
    }
    case "error": {
      const { code, ref } = message;
      // Outbox failures show on the message itself (via an outbox event).
      if (ref !== undefined && state.outbox.some((e) => e.id === ref)) {
        return state;
      }
      if (ref === "typing") return state;
      // A refused page (rate limit): the next scroll asks again.
      if (ref === "older") return { ...state, olderPending: undefined };
      const aboutRename = ref === "rename" || code.startsWith("name_");
      if (aboutRename && state.rename.open) {
        return {
          ...state,
          rename: {
            open: true,
            error: code,
            ...(message.retryAfterMs === undefined
              ? {}
              : { retryAfterMs: message.retryAfterMs }),
          },
        };
      }
      return addNotice(state, {
        type: "error",
        code,
        message: message.message,
      });
    }
  }
}

function reduceWelcome(
  state: State,
  welcome: WelcomeMessage,
  now: number,
): State {
  const hadLastSeq = state.lastSeq !== undefined;
  const hadChat = state.items.some((i) => i.kind === "chat");
  const epochChanged = state.epoch !== undefined &&
    state.epoch !== welcome.epoch;
  const you = welcome.you;
  let next: State = {
    ...state,
    now,
    room: welcome.room,
    you,
    youId: you.id,
    epoch: welcome.epoch,
    members: welcome.members,
    online: welcome.moreMembers ? welcome.online : undefined,
    membersCursor: welcome.moreMembers ? welcome.membersCursor ?? 0 : undefined,
    typing: [],
    typingTimeoutMs: welcome.typingTimeoutMs,
    moderator: welcome.moderator === true,
    locked: welcome.locked === true,
  };
  const history = [...welcome.history].sort((a, b) => a.seq - b.seq);
  const firstSeq = history[0]?.seq;
  let gapOrder: number | undefined;
  if (epochChanged) {
    // Old seqs belong to a history the server no longer has.
    next = {
      ...next,
      items: [],
      lastSeq: undefined,
      pendingChanges: new Map(),
    };
    if (hadLastSeq || hadChat) {
      gapOrder = firstSeq === undefined ? 0.5 : firstSeq - 0.5;
    }
  } else if (!welcome.recovered && hadLastSeq) {
    const last = state.lastSeq ?? 0;
    gapOrder = firstSeq === undefined
      ? last + 0.5
      : Math.max(last + 0.5, firstSeq - 0.5);
  }
  if (gapOrder !== undefined) {
    next = insertItem(next, {
      kind: "notice",
      key: `n:${next.nextKey}`,
      order: gapOrder,
      notice: { type: "gap" },
    });
  }
  next = addHistory({
    ...next,
    olderPending: undefined,
    ...(epochChanged ? { pagedIn: 0 } : {}),
  }, history);
  const oldest = oldestSeq(next);
  return {
    ...next,
    historyStart: oldest === undefined ? history.length === 0 : oldest <= 1,
  };
}

/** The seq of the oldest chat message shown, if any. */
export function oldestSeq(state: State): number | undefined {
  for (const item of state.items) {
    if (item.kind === "chat") return item.message.seq;
  }
  return undefined;
}

/** Adds stored messages (a welcome's history, or a `history` frame). */
function addHistory(state: State, messages: readonly ChatMessage[]): State {
  const you = ownId(state);
  let next = state;
  let lastSeq = state.lastSeq;
  for (const message of messages) {
    next = addEntry(next, message, you, false);
    lastSeq = Math.max(lastSeq ?? 0, message.seq);
  }
  return lastSeq === undefined ? next : { ...next, lastSeq };
}

/**
 * Adds a log entry: a message goes in the list (with any change already
 * heard of for it); an edit or deletion changes its message, or waits for
 * it if it is not in the list (scrolling back brings it later).
 */
function addEntry(
  state: State,
  entry: ChatMessage,
  you: string | undefined,
  sent: boolean,
): State {
  if (entry.kind === undefined || entry.target === undefined) {
    const items = addChat(state.items, entry, you, sent);
    return items === state.items
      ? state
      : applyPending(state, items, entry.seq);
  }
  const target = entry.target;
  const index = state.items.findIndex((i) =>
    i.kind === "chat" && i.message.seq === target
  );
  const item = state.items[index];
  if (item?.kind === "chat") {
    const changed = withChange(item, entry);
    return changed === item ? state : {
      ...state,
      items: state.items.map((i, n) => n === index ? changed : i),
    };
  }
  const known = state.pendingChanges.get(target) ?? {};
  const merged = mergeChange(known, entry);
  if (merged === known) return state;
  const pendingChanges = new Map(state.pendingChanges);
  pendingChanges.delete(target);
  pendingChanges.set(target, merged);
  if (pendingChanges.size > MAX_PENDING_CHANGES) {
    const oldest = pendingChanges.keys().next().value;
    if (oldest !== undefined) pendingChanges.delete(oldest);
  }
  return { ...state, pendingChanges };
}

/** The newest edit wins; a deletion is final. */
function mergeChange(change: PendingChange, entry: ChatMessage): PendingChange {
  if (entry.kind === "delete") {
    return change.removal ? change : { ...change, removal: entry };
  }
  if (change.edit && change.edit.seq >= entry.seq) return change;
  return { ...change, edit: entry };
}

function withChange(item: ChatItem, entry: ChatMessage): ChatItem {
  const merged = mergeChange(item, entry);
  if (merged.edit === item.edit && merged.removal === item.removal) return item;
  return {
    ...item,
    ...(merged.edit ? { edit: merged.edit } : {}),
    ...(merged.removal ? { removal: merged.removal } : {}),
  };
}

/** A message just added takes the changes that arrived before it. */
function applyPending(
  state: State,
  items: readonly Item[],
  seq: number,
): State {
  const change = state.pendingChanges.get(seq);
  if (!change) return items === state.items ? state : { ...state, items };
  const pendingChanges = new Map(state.pendingChanges);
  pendingChanges.delete(seq);
  return {
    ...state,
    pendingChanges,
    items: items.map((i) => {
      if (i.kind !== "chat" || i.message.seq !== seq) return i;
      let changed = i;
      for (const entry of [change.edit, change.removal]) {
        if (entry) changed = withChange(changed, entry);
      }
      return changed;
    }),
  };
}

/** The text a message shows now: its latest edit's, or its own. */
export function shownText(item: ChatItem): string {
  return item.removal ? "" : item.edit?.text ?? item.message.text;
}

/** Own messages are keyed by client id so pending and sent share a node. */
function chatKey(idOrSeq: string | number, own: boolean): string {
  return own ? `c:${idOrSeq}` : `s:${idOrSeq}`;
}

/** The list key of an own message, pending or sent. */
export function ownKey(clientId: string): string {
  return chatKey(clientId, true);
}

/** Adds or merges a chat message; returns `items` itself for a duplicate. */
function addChat(
  items: readonly Item[],
  message: ChatMessage,
  you: string | undefined,
  sent: boolean,
): readonly Item[] {
  const own = you !== undefined && message.from.id === you;
  const key = chatKey(own ? message.clientId : message.seq, own);
  const index = items.findIndex((i) => i.key === key);
  const existing = items[index];
  if (existing?.kind === "chat") {
    const merged: ChatItem = {
      ...existing,
      message,
      order: message.seq,
      sent: existing.sent || sent,
    };
    return items.map((i, n) => n === index ? merged : i);
  }
  if (items.some((i) => i.kind === "chat" && i.message.seq === message.seq)) {
    return items;
  }
  return trim(
    insertSorted(items, {
      kind: "chat",
      key,
      order: message.seq,
      message,
      own,
      sent,
    }),
  );
}

function addNotice(state: State, notice: Notice): State {
  return insertItem(state, {
    kind: "notice",
    key: `n:${state.nextKey}`,
    order: (state.lastSeq ?? 0) + 0.5,
    notice,
  });
}

function insertItem(state: State, item: Item): State {
  return {
    ...state,
    items: trim(insertSorted(state.items, item)),
    nextKey: state.nextKey + 1,
  };
}

/** Inserts after every item of equal or lower order; usually at the end. */
function insertSorted(items: readonly Item[], item: Item): Item[] {
  let at = items.length;
  while (at > 0 && (items[at - 1]?.order ?? -Infinity) > item.order) at--;
  return [...items.slice(0, at), item, ...items.slice(at)];
}

/** The hard bound; `window` applies the reader's. */
function trim(items: Item[]): Item[] {
  return items.length > MAX_PAGED_ITEMS ? items.slice(-MAX_PAGED_ITEMS) : items;
}

function withoutTyping(
  typing: readonly TypingEntry[],
  id: string,
): readonly TypingEntry[] {
  return typing.some((t) => t.id === id)
    ? typing.filter((t) => t.id !== id)
    : typing;
}

/** Outbox entries not yet shown as chat items: rendered as pending. */
export function pendingEntries(state: State): readonly OutboxEntry[] {
  if (state.outbox.length === 0) return state.outbox;
  const keys = new Set(state.items.map((i) => i.key));
  return state.outbox.filter((e) => !keys.has(chatKey(e.id, true)));
}

/** Members sorted for display, you first. */
export function sortedMembers(state: State): Member[] {
  const you = ownId(state);
  return [...state.members].sort((a, b) => {
    if (a.id === you) return -1;
    if (b.id === you) return 1;
    return a.name.localeCompare(b.name);
  });
}

/**
 * The log entries in the list, for persisting across reloads: each message
 * with the edit and deletion it took, in seq order.
 */
export function chatMessages(state: State): ChatMessage[] {
  const messages: ChatMessage[] = [];
  for (const item of state.items) {
    if (item.kind !== "chat") continue;
    messages.push(item.message);
    if (item.edit) messages.push(item.edit);
    if (item.removal) messages.push(item.removal);
  }
  return messages.sort((a, b) => a.seq - b.seq);
}

/** Keeps a known room size in step with a single join (+1) or leave (-1). */
function withOnline(
  state: State,
  online: number | undefined,
  change: number,
): State {
  return online === undefined ? state : { ...state, online: online + change };
}

function applyPresence(
  state: State,
  presence: Extract<ServerMessage, { type: "presence" }>,
): State {
  const own = ownId(state);
  // A summary may name people this tab's welcome already listed.
  const before = new Set(state.members.map((m) => m.id));
  const leftIds = new Set(presence.left.map((m) => m.id));
  const members = state.members.filter((m) => !leftIds.has(m.id));
  const known = new Set(members.map((m) => m.id));
  for (const member of presence.joined) {
    if (!known.has(member.id)) members.push(member);
  }
  const incomplete = presence.joinedCount > presence.joined.length ||
    presence.leftCount > presence.left.length;
  let next: State = {
    ...state,
    members,
    online: incomplete || state.online !== undefined
      ? presence.online
      : undefined,
    typing: state.typing.filter((t) => !leftIds.has(t.id)),
  };
  for (const kind of ["joined", "left"] as const) {
    const listed = presence[kind].filter((m) =>
      m.id !== own && (kind === "left" || !before.has(m.id))
    );
    const count = presence[kind === "joined" ? "joinedCount" : "leftCount"];
    const others = count - presence[kind].length;
    if (listed.length === 0 && others === 0) continue;
    next = addNotice(next, {
      type: "crowd",
      kind,
      names: listed.map((m) => m.name),
      others,
    });
  }
  return next;
}
