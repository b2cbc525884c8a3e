/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Rendering: the only module that touches the DOM. It reads the static page
 * from index.html, renders each slice of state only when that slice changed,
 * and keeps message nodes keyed so a new message appends one node instead of
 * rebuilding the list. Text always goes in through `textContent`.
 */

import {
  countCodePoints,
  EDIT_WINDOW_MS,
  isPrivateRoomName,
  MAX_NAME_CHARS,
  MAX_TEXT_CHARS,
  type ModerationAction,
  privateRoomName,
} from "../protocol/messages.ts";
import { continuesGroup, dayKey, dayLabel } from "./days.ts";
import { type AlertSettings, faviconHref } from "./alerts.ts";
import { linkSegments } from "./links.ts";
import { qrMatrix } from "./share.ts";
import {
  findMentions,
  mentionQuery,
  mentionsYou,
  suggestNames,
} from "./mentions.ts";
import {
  crowdText,
  documentTitle,
  errorText,
  isLang,
  isMessageKey,
  type Lang,
  type MessageKey,
  t,
} from "./i18n.ts";
import type { OutboxEntry } from "./outbox.ts";
import {
  type ChatItem,
  type Item,
  type NoticeItem,
  ownKey,
  pendingEntries,
  shownText,
  sortedMembers,
  type State,
} from "./state.ts";

/** What the page asks the rest of the app to do. */
export interface ViewHandlers {
  send(text: string): void;
  typing(): void;
  openRename(): void;
  closeRename(): void;
  rename(name: string): void;
  retryMessage(id: string): void;
  discardMessage(id: string): void;
  retryConnection(): void;
  setLang(lang: Lang): void;
  /** The end of a big room's member list came into view: the next page. */
  moreMembers(): void;
  /** The reader scrolled near the top: older messages, if there are any. */
  olderMessages(): void;
  /** A failed message goes back to the composer: its text, and it is gone. */
  takeBackMessage(id: string): string | undefined;
  /** The mention sound or notification was switched. */
  setAlerts(settings: AlertSettings): void;
  /** Replaces the text of one's own message `seq`. */
  edit(seq: number, text: string): void;
  /** Deletes message `seq` (one's own, or anyone's for a moderator). */
  deleteMessage(seq: number): void;
  /** A moderator's action on a member (10 minutes) or on the room. */
  moderate(action: ModerationAction, userId?: string): void;
  /** A moderator downloads the room's transcript. */
  exportRoom(format: "text" | "json"): void;
}

export interface View {
  render(state: State): void;
  /** The address to share the room by, once known. */
  setShareAddress(address: string): void;
  /** Shows the switches as they are (e.g. notifications refused). */
  showAlerts(settings: AlertSettings): void;
}

type Row =
  | { readonly kind: "item"; readonly key: string; readonly item: Item }
  | {
    readonly kind: "pending";
    readonly key: string;
    readonly entry: OutboxEntry;
  };

interface Rendered {
  readonly el: HTMLElement;
  data: Item | OutboxEntry;
}

/** The "New" line above the first message that came while the tab was away. */
const NEW_ROW: NoticeItem = {
  kind: "notice",
  key: "new-divider",
  order: 0,
  notice: { type: "new" },
};

/** Everyone a message may mention: the members listed, you included. */
function memberNames(state: State): string[] {
  return state.members.map((m) => m.name);
}

/** The "start of the room" row, shown above the first message. */
const START_ROW: NoticeItem = {
  kind: "notice",
  key: "start",
  order: 0,
  notice: { type: "start" },
};

/** The notice each moderator action shows in the room. */
const MODERATED_NOTICES: Record<ModerationAction, MessageKey> = {
  mute: "mutedNotice",
  unmute: "unmutedNotice",
  kick: "kickedNotice",
  unkick: "unkickedNotice",
  lock: "lockedNotice",
  unlock: "unlockedNotice",
  clear: "clearedNotice",
};

/** The composer shows the characters left from this many before the limit. */
const COUNTER_FROM_END = 200;
/** Close enough to the top that older messages should be fetched. */
const LOAD_OLDER_PX = 300;
/** Close enough to the bottom that new messages should scroll into view. */
const STICK_TO_BOTTOM_PX = 80;
const AVATAR_HUES = 8;

function byId<T extends HTMLElement>(
  doc: Document,
  id: string,
  type: new () => T,
): T {
  const el = doc.getElementById(id);
  if (!(el instanceof type)) {
    throw new TypeError(`Element "#${id}" is missing from index.html`);
  }
  return el;
}

/** Wires the page's controls to `handlers` and returns the renderer. */
export function createView(doc: Document, handlers: ViewHandlers): View {
  const root = doc.documentElement;
  const roomName = byId(doc, "room-name", HTMLElement);
  const privateBadge = byId(doc, "private-badge", HTMLElement);
  const newPrivateRoom = byId(doc, "new-private-room", HTMLAnchorElement);
  newPrivateRoom.addEventListener("click", (event) => {
    event.preventDefault();
    // 100 random bits: an address nobody can guess, shared by link.
    const name = privateRoomName(crypto.getRandomValues(new Uint8Array(13)));
    doc.location.assign(`/r/${name}`);
  });
  const connectionBox = byId(doc, "connection", HTMLElement);
  const status = byId(doc, "status", HTMLElement);
  const retryButton = byId(doc, "retry-button", HTMLButtonElement);
  const onlineCount = byId(doc, "online-count", HTMLElement);
  const langSelect = byId(doc, "lang-select", HTMLSelectElement);
  const renameButton = byId(doc, "rename-button", HTMLButtonElement);
  const membersToggle = byId(doc, "members-toggle", HTMLButtonElement);
  const members = byId(doc, "members", HTMLElement);
  const memberList = byId(doc, "member-list", HTMLUListElement);
  const list = byId(doc, "messages", HTMLElement);
  const typing = byId(doc, "typing", HTMLElement);
  const composer = byId(doc, "composer", HTMLFormElement);
  const input = byId(doc, "composer-input", HTMLTextAreaElement);
  const charCount = byId(doc, "char-count", HTMLElement);
  const newMessagesButton = byId(doc, "new-messages", HTMLButtonElement);
  const alertSound = byId(doc, "alert-sound", HTMLInputElement);
  const alertNotify = byId(doc, "alert-notify", HTMLInputElement);
  for (const box of [alertSound, alertNotify]) {
    box.addEventListener("change", () =>
      handlers.setAlerts({
        sound: alertSound.checked,
        notify: alertNotify.checked,
      }));
  }
  const icon = doc.querySelector<HTMLLinkElement>('link[rel="icon"]');
  let calledIcon: boolean | undefined;
  const emptyRoom = byId(doc, "empty-room", HTMLElement);
  const shareUrl = byId(doc, "share-url", HTMLElement);
  const copyLink = byId(doc, "copy-link", HTMLButtonElement);
  const shareQr = byId(doc, "share-qr", HTMLCanvasElement);
  const suggestionList = byId(doc, "mention-suggestions", HTMLUListElement);
  const statusLive = byId(doc, "status-live", HTMLElement);
  const sendButton = byId(doc, "send-button", HTMLButtonElement);
  const dialog = byId(doc, "rename-dialog", HTMLDialogElement);
  const renameForm = byId(doc, "rename-form", HTMLFormElement);
  const renameInput = byId(doc, "rename-input", HTMLInputElement);
  const renameError = byId(doc, "rename-error", HTMLElement);
  const renameCancel = byId(doc, "rename-cancel", HTMLButtonElement);
  const moderatorBadge = byId(doc, "moderator-badge", HTMLElement);
  const lockedBadge = byId(doc, "locked-badge", HTMLElement);
  const moderatorMenu = byId(doc, "moderator-menu", HTMLDetailsElement);
  const lockButton = byId(doc, "lock-room", HTMLButtonElement);
  const exportText = byId(doc, "export-text", HTMLButtonElement);
  const clearButton = byId(doc, "clear-room", HTMLButtonElement);
  clearButton.addEventListener("click", () => {
    moderatorMenu.open = false;
    if (doc.defaultView?.confirm(t(currentLang, "clearConfirm"))) {
      handlers.moderate("clear");
    }
  });
  const exportJson = byId(doc, "export-json", HTMLButtonElement);
  const editingBar = byId(doc, "editing-bar", HTMLElement);
  const cancelEdit = byId(doc, "cancel-edit", HTMLButtonElement);
  lockButton.addEventListener("click", () => {
    moderatorMenu.open = false;
    handlers.moderate(prev?.locked ? "unlock" : "lock");
  });
  exportText.addEventListener("click", () => {
    moderatorMenu.open = false;
    handlers.exportRoom("text");
  });
  exportJson.addEventListener("click", () => {
    moderatorMenu.open = false;
    handlers.exportRoom("json");
  });

  // --- Controls -----------------------------------------------------------

  /**
   * Near the length limit the composer shows how many characters are left;
   * past it, it says so and sending waits until the text is short enough
   * (a message the server would refuse is never sent).
   */
  let currentLang: Lang = "en";
  function updateCount(): boolean {
    const length = countCodePoints(input.value);
    const over = length > MAX_TEXT_CHARS;
    charCount.hidden = length < MAX_TEXT_CHARS - COUNTER_FROM_END;
    charCount.textContent = over
      ? t(currentLang, "tooLong", { n: length - MAX_TEXT_CHARS })
      : t(currentLang, "charsLeft", { n: MAX_TEXT_CHARS - length });
    charCount.classList.toggle("over", over);
    input.setAttribute("aria-invalid", String(over));
    sendButton.disabled = over;
    return !over;
  }

  /** The message being edited in the composer, if any. */
  let editingSeq: number | undefined;
  function setEditing(seq: number | undefined, text = ""): void {
    editingSeq = seq;
    editingBar.hidden = seq === undefined;
    composer.classList.toggle("editing", seq !== undefined);
    input.value = text;
    updateCount();
    input.focus();
  }
  cancelEdit.addEventListener("click", () => setEditing(undefined));

  function submitComposer(): void {
    const text = input.value;
    if (text.trim() === "" || !updateCount()) return;
    if (editingSeq !== undefined) {
      handlers.edit(editingSeq, text);
      setEditing(undefined);
      return;
    }
    handlers.send(text);
    input.value = "";
    updateCount();
    input.focus();
  }

  composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submitComposer();
  });
  // --- @mention suggestions -------------------------------------------------
  let suggestions: string[] = [];
  let chosen = 0;
  let knownNames: readonly string[] = [];
  let ownName: string | undefined;

  function updateSuggestions(): void {
    const query = mentionQuery(input.value, input.selectionStart ?? 0);
    suggestions = query === null
      ? []
      : suggestNames(query.query, knownNames, ownName);
    chosen = Math.min(chosen, Math.max(0, suggestions.length - 1));
    suggestionList.hidden = suggestions.length === 0;
    input.setAttribute("aria-expanded", String(suggestions.length > 0));
    suggestionList.replaceChildren(...suggestions.map((name, i) => {
      const option = el("li", i === chosen ? "chosen" : "", name);
      option.id = `mention-${i}`;
      option.setAttribute("role", "option");
      option.setAttribute("aria-selected", String(i === chosen));
      // mousedown, not click: the textarea must keep focus.
      option.addEventListener("mousedown", (event) => {
        event.preventDefault();
        pickSuggestion(i);
      });
      return option;
    }));
    if (suggestions.length > 0) {
      input.setAttribute("aria-activedescendant", `mention-${chosen}`);
    } else input.removeAttribute("aria-activedescendant");
  }

  function pickSuggestion(index: number): void {
    const name = suggestions[index];
    const caret = input.selectionStart ?? 0;
    const query = mentionQuery(input.value, caret);
    if (name === undefined || query === null) return;
    input.value = `${input.value.slice(0, query.start)}@${name} ${
      input.value.slice(caret)
    }`;
    const at = query.start + name.length + 2;
    input.setSelectionRange(at, at);
    suggestions = [];
    updateSuggestions();
    updateCount();
  }

  input.addEventListener("keydown", (event) => {
    if (suggestions.length > 0) {
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        chosen = (chosen + (event.key === "ArrowDown" ? 1 : -1) +
          suggestions.length) % suggestions.length;
        updateSuggestions();
        return;
      }
      if ((event.key === "Enter" || event.key === "Tab") && !event.shiftKey) {
        event.preventDefault();
        pickSuggestion(chosen);
        return;
      }
      if (event.key === "Escape") {
        suggestions = [];
        updateSuggestions();
        return;
      }
    }
    if (event.key === "Escape" && editingSeq !== undefined) {
      event.preventDefault();
      setEditing(undefined);
      return;
    }
    // isComposing: Enter also confirms an IME candidate.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submitComposer();
    }
  });
  input.addEventListener("input", () => {
    chosen = 0;
    updateSuggestions();
    updateCount();
    if (input.value.trim() !== "") handlers.typing();
  });

  langSelect.addEventListener("change", () => {
    if (isLang(langSelect.value)) handlers.setLang(langSelect.value);
  });
  retryButton.addEventListener("click", () => handlers.retryConnection());
  renameButton.addEventListener("click", () => handlers.openRename());
  renameCancel.addEventListener("click", () => handlers.closeRename());
  renameForm.addEventListener("submit", (event) => {
    event.preventDefault();
    handlers.rename(renameInput.value);
  });
  // Escape closes the dialog natively; keep the state in step, and give
  // focus back to the button that opened it.
  dialog.addEventListener("close", () => {
    handlers.closeRename();
    renameButton.focus();
  });
  renameInput.maxLength = MAX_NAME_CHARS;

  function setMembersOpen(open: boolean): void {
    members.classList.toggle("open", open);
    membersToggle.setAttribute("aria-expanded", String(open));
  }
  membersToggle.addEventListener("click", () => {
    setMembersOpen(!members.classList.contains("open"));
  });
  // Escape closes the phone's member panel from inside it or from its toggle.
  for (const target of [members, membersToggle]) {
    target.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && members.classList.contains("open")) {
        setMembersOpen(false);
        membersToggle.focus();
      }
    });
  }

  list.addEventListener("click", (event) => {
    const target = event.target;
    if (!(target instanceof Element)) return;
    const button = target.closest("button");
    if (button?.classList.contains("notice-lift")) {
      const { user, action } = button.dataset;
      if (user && (action === "unmute" || action === "unkick")) {
        handlers.moderate(action, user);
        button.disabled = true;
      }
      return;
    }
    const row = button?.closest<HTMLElement>(".msg");
    const seq = Number(row?.dataset["seq"]);
    if (button && row && Number.isSafeInteger(seq) && seq > 0) {
      const author = row.dataset["author"];
      if (button.classList.contains("msg-edit")) {
        const item = prev?.items.find((i) =>
          i.kind === "chat" && i.message.seq === seq
        );
        if (item?.kind === "chat") setEditing(seq, shownText(item));
        return;
      }
      if (button.classList.contains("msg-delete")) {
        if (doc.defaultView?.confirm(t(currentLang, "deleteConfirm"))) {
          handlers.deleteMessage(seq);
        }
        return;
      }
      if (button.classList.contains("msg-mute") && author) {
        handlers.moderate("mute", author);
        return;
      }
      if (button.classList.contains("msg-kick") && author) {
        handlers.moderate("kick", author);
        return;
      }
    }
    const id = row?.dataset["clientId"];
    if (!button || id === undefined) return;
    if (button.classList.contains("retry")) handlers.retryMessage(id);
    if (button.classList.contains("discard")) handlers.discardMessage(id);
    if (button.classList.contains("edit")) {
      // Back into the composer, to fix and send again (as a new message).
      const text = handlers.takeBackMessage(id);
      if (text !== undefined) {
        input.value = text;
        updateCount();
        input.focus();
      }
    }
  });

  // --- Rendering ----------------------------------------------------------

  // Follow new messages only while the reader is at the bottom; the list
  // also shrinks when the header or composer grows, so watch its size too.
  let pinned = true;
  function scrollToBottom(): void {
    list.scrollTop = list.scrollHeight;
  }
  // Scrolled up while others write: a button says how many wait below.
  let unseenBelow = 0;
  function showUnseen(lang: Lang): void {
    newMessagesButton.hidden = unseenBelow === 0;
    newMessagesButton.textContent = t(lang, "newMessages", { n: unseenBelow });
  }
  newMessagesButton.addEventListener("click", () => {
    pinned = true;
    scrollToBottom();
    unseenBelow = 0;
    newMessagesButton.hidden = true;
    list.focus();
  });
  list.addEventListener("scroll", () => {
    pinned = list.scrollHeight - list.scrollTop - list.clientHeight <
      STICK_TO_BOTTOM_PX;
    if (pinned && unseenBelow > 0) {
      unseenBelow = 0;
      newMessagesButton.hidden = true;
    }
    if (list.scrollTop < LOAD_OLDER_PX) handlers.olderMessages();
  }, { passive: true });
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      if (pinned) scrollToBottom();
    }).observe(list);
  }

  const nodes = new Map<string, Rendered>();
  const timeFormats = new Map<Lang, Intl.DateTimeFormat>();
  let prev: State | undefined;

  function timeFormat(lang: Lang): Intl.DateTimeFormat {
    let format = timeFormats.get(lang);
    if (!format) {
      format = new Intl.DateTimeFormat(lang, {
        hour: "2-digit",
        minute: "2-digit",
      });
      timeFormats.set(lang, format);
    }
    return format;
  }

  function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    className?: string,
    text?: string,
  ): HTMLElementTagNameMap[K] {
    const node = doc.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function translateStatic(lang: Lang): void {
    currentLang = lang;
    updateCount();
    root.lang = lang;
    langSelect.value = lang;
    for (const node of doc.querySelectorAll<HTMLElement>("[data-i18n]")) {
      const key = node.dataset["i18n"];
      if (isKey(key)) node.textContent = t(lang, key);
    }
    for (
      const node of doc.querySelectorAll<HTMLElement>("[data-i18n-placeholder]")
    ) {
      const key = node.dataset["i18nPlaceholder"];
      if (isKey(key)) node.setAttribute("placeholder", t(lang, key));
    }
    for (
      const node of doc.querySelectorAll<HTMLElement>("[data-i18n-aria-label]")
    ) {
      const key = node.dataset["i18nAriaLabel"];
      if (isKey(key)) node.setAttribute("aria-label", t(lang, key));
    }
  }

  function renderStatus(state: State): void {
    const { lang, connection } = state;
    root.dataset["connection"] = connection.phase;
    connectionBox.dataset["phase"] = connection.phase;
    let text: string;
    switch (connection.phase) {
      case "connecting":
        text = t(lang, "statusConnecting");
        break;
      case "open":
        text = t(lang, "statusConnected");
        break;
      case "reconnecting": {
        const seconds = Math.max(
          1,
          Math.ceil((connection.retryAt - state.now) / 1000),
        );
        const countdown = t(lang, "statusReconnectingIn", { s: seconds });
        text = connection.unreachable
          ? `${t(lang, "statusUnreachable")} ${countdown}`
          : countdown;
        break;
      }
      case "closed":
        text = connection.reason === "replaced"
          ? t(lang, "statusReplaced")
          : connection.reason === "kicked"
          ? t(lang, "statusKicked")
          : connection.reason === "locked"
          ? t(lang, "statusLocked")
          : t(lang, "statusStopped");
        break;
    }
    status.textContent = text;
    // Screen readers hear changes of state, not every second of a countdown.
    const announced = connection.phase === "reconnecting"
      ? (connection.unreachable
        ? t(lang, "statusUnreachable")
        : t(lang, "statusReconnecting"))
      : text;
    // Each retry passes through "connecting": not news during an outage.
    const retrying = connection.phase === "connecting" &&
      statusLive.textContent !== "";
    if (!retrying && statusLive.textContent !== announced) {
      statusLive.textContent = announced;
    }
    retryButton.hidden = connection.phase !== "reconnecting" &&
      connection.phase !== "closed";
  }

  // A big room's list is read a page at a time, when its end is in view:
  // the panel opened (phones) or scrolled down.
  const moreObserver = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        handlers.moreMembers();
      }
    })
    : null;

  function renderMembers(state: State): void {
    knownNames = memberNames(state);
    ownName = state.you?.name;
    const you = state.you?.id;
    onlineCount.textContent = t(state.lang, "onlineCount", {
      n: state.online ?? state.members.length,
    });
    const rows = sortedMembers(state).map((member) => {
      const li = el("li", member.id === you ? "member self" : "member");
      li.append(avatar(member.id, member.name));
      const name = el("bdi", "member-name", member.name);
      // Long names are cut with an ellipsis: the whole name on hover.
      name.title = member.name;
      li.append(name);
      if (member.id === you) {
        li.append(" ", el("span", "you-tag", t(state.lang, "you")));
      }
      return li;
    });
    moreObserver?.disconnect();
    if (state.membersCursor !== undefined) {
      const more = el("li", "member-more", t(state.lang, "moreMembers"));
      rows.push(more);
      moreObserver?.observe(more);
    }
    memberList.replaceChildren(...rows);
  }

  function avatar(id: string, name: string): HTMLElement {
    const initial = Array.from(name.trim())[0]?.toUpperCase() ?? "?";
    const node = el("span", `avatar hue-${hash(id) % AVATAR_HUES}`, initial);
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function fillChat(node: HTMLElement, item: ChatItem, state: State): void {
    const { lang } = state;
    const { message, own, removal } = item;
    const you = state.you?.name;
    const text = shownText(item);
    node.className =
      (own ? "msg own" : mentionsYou(text, you) ? "msg mentions-you" : "msg") +
      (removal ? " removed" : "");
    node.dataset["seq"] = String(message.seq);
    node.dataset["author"] = message.from.id;
    if (own) node.dataset["clientId"] = message.clientId;
    else delete node.dataset["clientId"];
    const body = el("div", "body");
    const top = meta(
      message.from.name,
      message.time,
      lang,
      item.sent ? "sent" : null,
    );
    if (item.edit && !removal) {
      top.append(" ", el("span", "edited", t(lang, "edited")));
    }
    body.append(
      top,
      removal
        ? el(
          "div",
          "text removed-text",
          t(lang, removal.moderator ? "messageRemoved" : "messageDeleted"),
        )
        : textNode(text, memberNames(state)),
    );
    const actions = removal ? null : messageActions(item, state);
    if (actions) body.append(actions);
    node.replaceChildren(avatar(message.from.id, message.from.name), body);
  }

  /**
   * What can be done to a message: its author edits it (for 15 minutes)
   * and deletes it; a moderator deletes anyone's and mutes or removes its
   * author. Buttons show on hover and keyboard focus.
   */
  function messageActions(item: ChatItem, state: State): HTMLElement | null {
    const { lang } = state;
    const buttons: HTMLButtonElement[] = [];
    const button = (className: string, key: MessageKey, label: string) => {
      const node = el("button", `link-button ${className}`, t(lang, key));
      node.type = "button";
      node.setAttribute("aria-label", label);
      buttons.push(node);
    };
    const name = item.message.from.name;
    if (item.own) {
      if (state.now - item.message.time < EDIT_WINDOW_MS) {
        button("msg-edit", "editMessage", t(lang, "editMessageLabel"));
      }
      button("msg-delete", "deleteMessage", t(lang, "deleteMessageLabel"));
    } else if (state.moderator) {
      button("msg-delete", "deleteMessage", t(lang, "deleteMessageLabel"));
      button("msg-mute", "muteMember", t(lang, "muteMemberLabel", { name }));
      button("msg-kick", "kickMember", t(lang, "kickMemberLabel", { name }));
    }
    if (buttons.length === 0) return null;
    const row = el("div", "msg-actions");
    row.append(...buttons);
    return row;
  }

  function fillPending(
    node: HTMLElement,
    entry: OutboxEntry,
    state: State,
  ): void {
    const { lang } = state;
    const failed = entry.status === "failed";
    node.className = failed ? "msg own failed" : "msg own pending";
    delete node.dataset["seq"];
    node.dataset["clientId"] = entry.id;
    const name = state.you?.name ?? "";
    const body = el("div", "body");
    body.append(
      meta(name, entry.createdAt, lang, failed ? null : "sending"),
      textNode(entry.text),
    );
    if (failed) {
      const row = el("div", "failure");
      row.append(el("span", "delivery", t(lang, "failed")), " ");
      const retry = el("button", "retry link-button", t(lang, "retry"));
      retry.type = "button";
      retry.setAttribute("aria-label", t(lang, "retryLabel"));
      const discard = el("button", "discard link-button", t(lang, "discard"));
      discard.type = "button";
      discard.setAttribute("aria-label", t(lang, "discardLabel"));
      const edit = el("button", "edit link-button", t(lang, "editFailed"));
      edit.type = "button";
      edit.setAttribute("aria-label", t(lang, "editFailedLabel"));
      row.append(retry, " · ", edit, " · ", discard);
      if (entry.error) {
        row.append(el("span", "reason", errorText(lang, entry.error, "")));
      }
      body.append(row);
    }
    node.replaceChildren(avatar(state.you?.id ?? "", name), body);
  }

  function meta(
    name: string,
    time: number,
    lang: Lang,
    delivery: "sent" | "sending" | null,
  ): HTMLElement {
    const row = el("div", "meta");
    const when = new Date(time);
    const stamp = el("time", undefined, timeFormat(lang).format(when));
    stamp.dateTime = when.toISOString();
    stamp.title = when.toLocaleString(lang);
    row.append(el("bdi", "author", name), " ", stamp);
    if (delivery) {
      row.append(" ", el("span", `delivery ${delivery}`, t(lang, delivery)));
    }
    return row;
  }

  /**
   * A message's text: web addresses as links, @mentions of members marked
   * (DOM nodes, never HTML).
   */
  function textNode(text: string, names: readonly string[] = []): HTMLElement {
    const node = el("div", "text");
    node.dir = "auto";
    for (const segment of linkSegments(text)) {
      if (segment.kind === "text") {
        let at = 0;
        for (const mention of findMentions(segment.text, names)) {
          node.append(segment.text.slice(at, mention.start));
          node.append(
            el(
              "span",
              "mention",
              segment.text.slice(mention.start, mention.end),
            ),
          );
          at = mention.end;
        }
        node.append(segment.text.slice(at));
        continue;
      }
      const link = el("a", "link", segment.text);
      link.href = segment.href;
      link.target = "_blank";
      link.rel = "noopener noreferrer nofollow";
      node.append(link);
    }
    return node;
  }

  function fillNotice(node: HTMLElement, item: NoticeItem, state: State): void {
    const { lang } = state;
    const notice = item.notice;
    delete node.dataset["seq"];
    delete node.dataset["clientId"];
    let text: string;
    let className = "system";
    switch (notice.type) {
      case "joined":
        text = t(lang, "joined", { name: notice.name });
        break;
      case "left":
        text = t(lang, "left", { name: notice.name });
        break;
      case "crowd": {
        text = crowdText(lang, notice.kind, notice.names, notice.others);
        break;
      }
      case "renamed":
        text = t(lang, "renamed", { from: notice.from, to: notice.to });
        break;
      case "error":
        text = errorText(lang, notice.code, notice.message);
        className = "system error";
        break;
      case "nameKept":
        text = t(lang, "nameKept", {
          wanted: notice.wanted,
          name: notice.name,
        });
        break;
      case "day":
        text = notice.label;
        className = "system day-separator";
        break;
      case "new":
        text = t(lang, "newDivider");
        className = "system new-divider";
        break;
      case "start":
        text = t(lang, "historyStart");
        className = "system history-start";
        break;
      case "gap":
        text = t(lang, "gapMarker");
        className = "system gap-marker";
        break;
      case "notConnected":
        text = t(lang, "notConnected");
        className = "system error";
        break;
      case "moderated":
        text = t(lang, MODERATED_NOTICES[notice.action], {
          by: notice.by,
          name: notice.name ?? "",
          n: notice.minutes ?? "",
        });
        className = "system moderation";
        break;
    }
    node.className = className;
    const span = el("span", "text", text);
    span.dir = "auto";
    node.replaceChildren(span);
    // A moderator lifts a mute or a kick from its notice.
    if (
      state.moderator && notice.type === "moderated" &&
      notice.userId !== undefined &&
      (notice.action === "mute" || notice.action === "kick")
    ) {
      const lift = el(
        "button",
        "link-button notice-lift",
        t(lang, notice.action === "mute" ? "liftMute" : "liftKick"),
      );
      lift.type = "button";
      lift.dataset["user"] = notice.userId;
      lift.dataset["action"] = notice.action === "mute" ? "unmute" : "unkick";
      node.append(" ", lift);
    }
  }

  function fill(node: HTMLElement, row: Row, state: State): void {
    if (row.kind === "pending") fillPending(node, row.entry, state);
    else if (row.item.kind === "chat") fillChat(node, row.item, state);
    else fillNotice(node, row.item, state);
  }

  /** Renders the list; true when it added an own message. */
  function renderList(
    state: State,
    rebuild: boolean,
    youChanged: boolean,
  ): boolean {
    if (rebuild) {
      nodes.clear();
      list.replaceChildren();
    }
    const rows: Row[] = state.items.map((item) => ({
      kind: "item",
      key: item.key,
      item,
    }));
    // Above the room's first message, once the reader has reached it.
    if (state.historyStart) {
      rows.unshift({ kind: "item", key: START_ROW.key, item: START_ROW });
    }
    let addedOwn = false;
    for (const entry of pendingEntries(state)) {
      const key = ownKey(entry.id);
      if (!nodes.has(key)) addedOwn = true;
      rows.push({ kind: "pending", key, entry });
    }
    const withDays = withDaySeparators(rows, state);
    // Remove first, so dropping the oldest message moves no other node.
    const keys = new Set(withDays.map((r) => r.key));
    for (const [key, rendered] of nodes) {
      if (!keys.has(key)) {
        rendered.el.remove();
        nodes.delete(key);
      }
    }
    let cursor = list.firstElementChild;
    let previous: { author: string; time: number } | undefined;
    let lastOwn: HTMLElement | undefined;
    for (const row of withDays) {
      const data = row.kind === "item" ? row.item : row.entry;
      let rendered = nodes.get(row.key);
      if (!rendered) {
        rendered = { el: el("div"), data };
        fill(rendered.el, row, state);
        nodes.set(row.key, rendered);
      } else if (
        rendered.data !== data || (row.kind === "pending" && youChanged)
      ) {
        rendered.data = data;
        fill(rendered.el, row, state);
      }
      if (rendered.el === cursor) cursor = cursor.nextElementSibling;
      else list.insertBefore(rendered.el, cursor);
      // Grouping depends on the neighbours, so it is decided here, each time.
      const message = row.kind === "pending"
        ? { author: state.you?.id ?? "", time: row.entry.createdAt }
        : row.item.kind === "chat"
        ? { author: row.item.message.from.id, time: row.item.message.time }
        : undefined;
      rendered.el.classList.toggle(
        "continued",
        message !== undefined && continuesGroup(previous, message),
      );
      rendered.el.classList.remove("last-own");
      if (
        row.kind === "pending" ||
        (row.kind === "item" && row.item.kind === "chat" && row.item.own)
      ) {
        lastOwn = rendered.el;
      }
      previous = message;
    }
    // "Sent" shows on the newest own message only: the others are implied.
    lastOwn?.classList.add("last-own");
    return addedOwn;
  }

  /** A separator row before the first message of each day. */
  const dayRows = new Map<string, NoticeItem>();
  function withDaySeparators(rows: Row[], state: State): Row[] {
    const out: Row[] = [];
    let day: string | undefined;
    for (const row of rows) {
      const time = row.kind === "pending"
        ? row.entry.createdAt
        : row.item.kind === "chat"
        ? row.item.message.time
        : undefined;
      if (
        row.kind === "item" && row.item.kind === "chat" && !state.hidden &&
        row.item.message.seq === state.newSinceSeq
      ) {
        out.push({ kind: "item", key: NEW_ROW.key, item: NEW_ROW });
      }
      if (time !== undefined && dayKey(time) !== day) {
        day = dayKey(time);
        const label = dayLabel(time, state.now, state.lang);
        const key = `day:${day}`;
        let item = dayRows.get(key);
        if (
          item?.kind !== "notice" || item.notice.type !== "day" ||
          item.notice.label !== label
        ) {
          item = {
            kind: "notice",
            key,
            order: 0,
            notice: { type: "day", label },
          };
          dayRows.set(key, item);
        }
        out.push({ kind: "item", key, item });
      }
      out.push(row);
    }
    return out;
  }

  function renderTyping(state: State): void {
    const names = state.typing.map((entry) => entry.name);
    const [a, b] = names;
    let text = "";
    if (names.length === 1 && a !== undefined) {
      text = t(state.lang, "typingOne", { name: a });
    } else if (names.length === 2 && a !== undefined && b !== undefined) {
      text = t(state.lang, "typingTwo", { a, b });
    } else if (names.length > 2) {
      text = t(state.lang, "typingMany");
    }
    typing.textContent = text;
  }

  function renderRename(state: State, langChanged: boolean): void {
    const { rename } = state;
    if (rename.open && !dialog.open) {
      renameInput.value = state.you?.name ?? "";
      dialog.showModal();
      renameInput.select();
    } else if (!rename.open && dialog.open) {
      dialog.close();
      renameButton.focus();
    }
    renameInput.setAttribute(
      "aria-invalid",
      String(rename.error !== undefined),
    );
    if (rename.error === undefined) {
      renameError.hidden = true;
      renameError.textContent = "";
    } else if (langChanged || rename !== prev?.rename) {
      renameError.hidden = false;
      const problem = rename.problem;
      renameError.textContent = problem
        ? t(state.lang, problem.key, {
          n: "n" in problem ? problem.n : "",
          char: "char" in problem ? problem.char : "",
          max: MAX_NAME_CHARS,
        })
        : rename.error === "rate_limited" && rename.retryAfterMs !== undefined
        ? t(state.lang, "renameWait", {
          s: Math.ceil(rename.retryAfterMs / 1000),
        })
        : rename.error === "not_connected"
        ? t(state.lang, "notConnected")
        : errorText(state.lang, rename.error, rename.error);
    }
  }

  function render(state: State): void {
    const langChanged = state.lang !== prev?.lang;
    if (langChanged) translateStatic(state.lang);
    if (
      langChanged || state.connection !== prev?.connection ||
      (state.now !== prev.now && state.connection.phase === "reconnecting")
    ) {
      renderStatus(state);
    }
    if (state.room !== prev?.room) {
      roomName.textContent = state.room;
      privateBadge.hidden = !isPrivateRoomName(state.room);
    }
    if (
      langChanged || state.moderator !== prev?.moderator ||
      state.locked !== prev.locked
    ) {
      moderatorBadge.hidden = !state.moderator;
      moderatorMenu.hidden = !state.moderator;
      lockedBadge.hidden = !state.locked;
      lockButton.textContent = t(
        state.lang,
        state.locked ? "unlockRoom" : "lockRoom",
      );
    }
    if (
      langChanged || state.members !== prev?.members || state.you !== prev.you
    ) {
      renderMembers(state);
    }
    if (
      langChanged || state.items !== prev?.items ||
      state.outbox !== prev.outbox || state.you !== prev.you ||
      state.moderator !== prev.moderator ||
      // After midnight "Today" becomes "Yesterday".
      dayKey(state.now) !== dayKey(prev.now) ||
      // Back from away: the "New" line appears.
      state.hidden !== prev.hidden
    ) {
      // Older messages go in above what the reader is looking at: keep
      // that where it is (its distance from the bottom), so nothing jumps.
      const prepended = !pinned && prev !== undefined &&
        state.items[0]?.key !== prev.items[0]?.key &&
        state.items.length > prev.items.length;
      const fromBottom = list.scrollHeight - list.scrollTop;
      if (!pinned && prev !== undefined) {
        unseenBelow += newFromOthers(prev, state);
        showUnseen(state.lang);
      }
      if (
        renderList(
          state,
          langChanged || state.moderator !== prev?.moderator,
          state.you !== prev?.you,
        )
      ) {
        pinned = true;
      } else if (prepended) {
        list.scrollTop = list.scrollHeight - fromBottom;
      }
    }
    if (langChanged || state.typing !== prev?.typing) renderTyping(state);
    if (
      langChanged || state.rename !== prev?.rename || state.you !== prev.you
    ) {
      renderRename(state, langChanged);
    }
    if (state.you && state.you.id !== root.dataset["you"]) {
      root.dataset["you"] = state.you.id;
    }
    doc.title = documentTitle(
      state.lang,
      state.room,
      state.unread,
      state.unreadMentions,
    );
    if (pinned) scrollToBottom();
    prev = state;
  }

  // --- An empty room: share it ---------------------------------------------
  let shareAddress = "";
  function setShareAddress(address: string): void {
    if (address === shareAddress) return;
    shareAddress = address;
    shareUrl.textContent = address;
    drawQr(shareQr, qrMatrix(address));
  }
  copyLink.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(shareAddress);
      copyLink.textContent = t(prev?.lang ?? "en", "linkCopied");
    } catch {
      // No clipboard (plain http on another machine): select it instead.
      doc.getSelection()?.selectAllChildren(shareUrl);
    }
  });

  /** Shown while nobody has written anything here yet. */
  function renderEmptyRoom(state: State): void {
    const empty = state.historyStart &&
      !state.items.some((i) => i.kind === "chat") &&
      pendingEntries(state).length === 0 && shareAddress !== "";
    emptyRoom.hidden = !empty;
  }

  return {
    render(state) {
      render(state);
      renderEmptyRoom(state);
      // The tab's icon shows a dot while you are called.
      const called = state.unreadMentions > 0;
      if (icon && called !== calledIcon) {
        calledIcon = called;
        icon.href = faviconHref(called);
      }
    },
    showAlerts(settings) {
      alertSound.checked = settings.sound;
      alertNotify.checked = settings.notify;
    },
    setShareAddress(address) {
      setShareAddress(address);
      if (prev) renderEmptyRoom(prev);
    },
  };
}

/** Draws a QR matrix with a quiet zone of four modules, crisp at any size. */
function drawQr(canvas: HTMLCanvasElement, matrix: boolean[][]): void {
  const context = canvas.getContext("2d");
  if (!context) return;
  const modules = matrix.length + 8;
  const scale = Math.floor(canvas.width / modules);
  const offset = Math.floor((canvas.width - scale * modules) / 2) + 4 * scale;
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.fillStyle = "#000000";
  matrix.forEach((row, r) =>
    row.forEach((dark, c) => {
      if (dark) {
        context.fillRect(offset + c * scale, offset + r * scale, scale, scale);
      }
    })
  );
}

/** Chat messages from others added after everything `prev` showed. */
function newFromOthers(prev: State, state: State): number {
  let lastSeq = 0;
  for (const item of prev.items) {
    if (item.kind === "chat") lastSeq = Math.max(lastSeq, item.message.seq);
  }
  let count = 0;
  for (let i = state.items.length - 1; i >= 0; i--) {
    const item = state.items[i]!;
    if (item.kind !== "chat") continue;
    if (item.message.seq <= lastSeq) break;
    if (!item.own) count++;
  }
  return count;
}

function isKey(key: string | undefined): key is MessageKey {
  return key !== undefined && isMessageKey(key);
}

/** A small, stable string hash for picking avatar colours. */
function hash(text: string): number {
  let h = 0;
  for (let i = 0; i < text.length; i++) {
    h = (h * 31 + text.charCodeAt(i)) >>> 0;
  }
  return h;
}
