/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/// <reference lib="esnext" />
/**
 * Entry point: reads the room from the URL, restores this tab's session and
 * outbox, and wires the connection, the reducer and the view together. The
 * only globals it exposes are `data-connection` and `data-you` on <html>,
 * which browser tests wait on.
 */

import {
  type ChatMessage,
  type ClientMessage,
  DEFAULT_ROOM,
  type HelloMessage,
  type ModerateMessage,
  type ServerMessage,
} from "../protocol/messages.ts";
import { SendPump } from "./send_pump.ts";
import { Connection } from "./connection.ts";
import { isLang, LANG_STORAGE_KEY, pickLang } from "./i18n.ts";
import { Outbox, outboxKey } from "./outbox.ts";
import {
  type AppEvent,
  chatMessages,
  initialState,
  oldestSeq,
  reduce,
} from "./state.ts";
import {
  loadSession,
  MemoryStorage,
  readItem,
  saveSession,
  type StorageLike,
  writeItem,
} from "./storage.ts";
import { createView } from "./view.ts";
import { loadIdentity, saveIdentity, uniqueTabId } from "./tabs.ts";
import {
  forgetModeratorKey,
  keyFromHash,
  storedModeratorKey,
  storeModeratorKey,
} from "./moderator.ts";
import { shareAddress } from "./share.ts";
import { loadAlertSettings, saveAlertSettings } from "./alerts.ts";
import { chime } from "./chime.ts";
import { mentionsYou } from "./mentions.ts";
import { nameProblem } from "./name_check.ts";
import {
  nameToClaim,
  rememberedName,
  rememberName,
} from "./remembered_name.ts";

/** Typing notices go out at most this often while the user types. */
const TYPING_INTERVAL_MS = 3000;
/** Bursts of messages are persisted once, this long after the last one. */
const SAVE_DELAY_MS = 300;

/** `/r/{room}` names a room; anything else is the default room. */
export function roomFromPath(pathname: string): string {
  const match = /^\/r\/([^/]+)\/?$/.exec(pathname);
  const raw = match?.[1];
  if (raw === undefined) return DEFAULT_ROOM;
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

function storageOr(get: () => Storage): StorageLike {
  try {
    return get();
  } catch {
    // Storage can be blocked outright (sandboxed frames, privacy settings).
    return new MemoryStorage();
  }
}

/**
 * The server serves the page already in this language next time (a cookie
 * is what it can read before any script runs).
 */
function rememberLangForServer(lang: string): void {
  try {
    document.cookie =
      `chat-lang=${lang}; path=/; max-age=31536000; samesite=lax`;
  } catch {
    // Cookies blocked: the page still switches once its script runs.
  }
}

async function main(): Promise<void> {
  const local = storageOr(() => localStorage);
  const session = storageOr(() => sessionStorage);
  const room = roomFromPath(location.pathname);
  // The moderator link: kept in this browser, and taken out of the address
  // bar at once so it is not shared by accident with the room's link.
  const linkKey = keyFromHash(location.hash);
  if (linkKey !== undefined) {
    storeModeratorKey(local, linkKey);
    history.replaceState(null, "", location.pathname + location.search);
  }
  const record = loadSession(session, room);
  // Every tab of this browser is the same person in the room: the newest
  // token any of them got is the one to resume with.
  let resumeToken = loadIdentity(local, room)?.resumeToken ??
    record.resumeToken;
  const navigation = performance.getEntriesByType("navigation")[0];
  const tab = await uniqueTabId({
    storage: session,
    makeId: () => crypto.randomUUID(),
    channel: typeof BroadcastChannel === "function"
      ? new BroadcastChannel("chat-tabs")
      : null,
    reloaded: navigation instanceof PerformanceNavigationTiming &&
      navigation.type === "reload",
  });
  const outbox = new Outbox(local, outboxKey(room, tab));

  const storedLang = readItem(local, LANG_STORAGE_KEY);
  // A choice made before the server read cookies: tell it now.
  if (isLang(storedLang)) rememberLangForServer(storedLang);
  let state = initialState({
    room,
    lang: pickLang(storedLang, navigator.language),
    now: Date.now(),
    hidden: document.visibilityState === "hidden",
    messages: record.messages,
    outbox: outbox.entries,
    ...(record.youId === undefined ? {} : { youId: record.youId }),
    ...(record.epoch === undefined ? {} : { epoch: record.epoch }),
    ...(record.lastSeq === undefined ? {} : { lastSeq: record.lastSeq }),
  });

  let saveTimer: ReturnType<typeof setTimeout> | undefined;
  function saveNow(): void {
    clearTimeout(saveTimer);
    saveTimer = undefined;
    saveSession(session, room, {
      messages: chatMessages(state),
      ...(resumeToken === undefined ? {} : { resumeToken }),
      ...(state.epoch === undefined ? {} : { epoch: state.epoch }),
      ...(state.lastSeq === undefined ? {} : { lastSeq: state.lastSeq }),
      ...(state.you === undefined ? {} : { youId: state.you.id }),
    });
  }

  function dispatch(event: AppEvent): void {
    const next = reduce(state, event);
    if (next === state) return;
    const itemsChanged = next.items !== state.items;
    state = next;
    view.render(state);
    if (itemsChanged && saveTimer === undefined) {
      saveTimer = setTimeout(saveNow, SAVE_DELAY_MS);
    }
  }

  function outboxChanged(): void {
    dispatch({ type: "outbox", entries: outbox.entries });
  }

  /**
   * False from a welcome until its last `history` frame: nothing is sent
   * before every stored copy has had the chance to settle its outbox entry.
   */
  let historyComplete = false;
  const pump = new SendPump({
    pending: () => outbox.pending(),
    send: (id, text) =>
      historyComplete && connection.send({ type: "send", id, text }),
    setTimer(callback, ms) {
      const timer = setTimeout(callback, ms);
      return () => clearTimeout(timer);
    },
  });

  let lastTypingAt = -Infinity;
  let alerts = loadAlertSettings(local);

  /** A mention while the tab is hidden: the chime, the notification. */
  function callReader(from: string, text: string): void {
    if (alerts.sound) chime();
    const notifications = globalThis.Notification;
    if (alerts.notify && notifications?.permission === "granted") {
      try {
        new notifications(`#${state.room}`, {
          body: `${from}: ${text}`.slice(0, 200),
          tag: `chat-${state.room}`,
        });
      } catch {
        // Some browsers allow notifications only from a service worker.
      }
    }
  }
  /** The remembered name being claimed after a welcome, until answered. */
  let claiming: string | undefined;
  let membersAsked = { after: -1, at: 0 };

  const view = createView(document, {
    send(text) {
      const id = crypto.randomUUID();
      outbox.add(id, text, Date.now());
      outboxChanged();
      pump.pump();
      lastTypingAt = -Infinity;
    },
    typing() {
      const now = Date.now();
      if (now - lastTypingAt < TYPING_INTERVAL_MS) return;
      if (connection.send({ type: "typing" })) lastTypingAt = now;
    },
    openRename() {
      dispatch({ type: "renameOpen" });
    },
    closeRename() {
      dispatch({ type: "renameClose" });
    },
    rename(name) {
      if (state.you !== undefined && name.trim() === state.you.name) {
        dispatch({ type: "renameClose" });
        return;
      }
      // Said precisely here, before the server refuses it.
      const problem = nameProblem(name);
      if (problem) {
        dispatch({ type: "renameError", error: "name_invalid", problem });
        return;
      }
      dispatch({ type: "renameOpen" });
      if (!connection.send({ type: "rename", name })) {
        dispatch({ type: "renameError", error: "not_connected" });
      }
    },
    retryMessage(id) {
      if (outbox.retry(id) === undefined) return;
      outboxChanged();
      pump.pump();
    },
    discardMessage(id) {
      if (outbox.remove(id)) outboxChanged();
    },
    takeBackMessage(id) {
      const text = outbox.entries.find((e) => e.id === id)?.text;
      if (text !== undefined && outbox.remove(id)) outboxChanged();
      return text;
    },
    olderMessages() {
      if (state.historyStart || state.olderPending !== undefined) return;
      const before = oldestSeq(state) ??
        (state.lastSeq === undefined ? undefined : state.lastSeq + 1);
      if (before === undefined || before <= 1) return;
      if (connection.send({ type: "older", before })) {
        dispatch({ type: "olderRequested", before });
      }
    },
    setAlerts(settings) {
      alerts = settings;
      saveAlertSettings(local, alerts);
      const notifications = globalThis.Notification;
      if (settings.notify && notifications?.permission === "default") {
        // Asked only when the reader turns them on (a user gesture).
        void notifications.requestPermission().then((permission) => {
          if (permission !== "granted") {
            alerts = { ...alerts, notify: false };
            saveAlertSettings(local, alerts);
            view.showAlerts(alerts);
          }
        });
      }
    },
    moreMembers() {
      const after = state.membersCursor;
      const now = Date.now();
      // One request per page; asked again only if its answer got lost.
      if (
        after === undefined ||
        (after === membersAsked.after && now - membersAsked.at < 3_000)
      ) {
        return;
      }
      if (connection.send({ type: "members", after })) {
        membersAsked = { after, at: now };
      }
    },
    retryConnection() {
      connection.retryNow();
    },
    edit(seq, text) {
      sendNow({ type: "edit", id: crypto.randomUUID(), target: seq, text });
    },
    deleteMessage(seq) {
      sendNow({ type: "delete", id: crypto.randomUUID(), target: seq });
    },
    moderate(action, userId) {
      const request: ModerateMessage = { type: "moderate", action };
      if (userId !== undefined) request.user = userId;
      if (action === "mute" || action === "kick") request.minutes = 10;
      sendNow(request);
    },
    exportRoom(format) {
      void downloadExport(format);
    },
    setLang(lang) {
      writeItem(local, LANG_STORAGE_KEY, lang);
      rememberLangForServer(lang);
      dispatch({ type: "lang", lang });
    },
  });

  /**
   * Sends a request that is not queued (unlike messages, which wait in the
   * outbox): offline, the page says so and nothing is sent.
   */
  function sendNow(message: ClientMessage): void {
    if (!connection.send(message)) {
      dispatch({ type: "notice", notice: { type: "notConnected" } });
    }
  }

  /**
   * Fetches the transcript with the moderator key in a header (never in a
   * URL) and hands it to the browser as a download.
   */
  async function downloadExport(format: "text" | "json"): Promise<void> {
    const key = storedModeratorKey(local);
    if (key === undefined) return;
    try {
      const response = await fetch(
        `/export?room=${encodeURIComponent(state.room)}&format=${format}`,
        { headers: { authorization: `Bearer ${key}` } },
      );
      if (response.status === 401) {
        // Revoked by a new moderator link: say so, and stop presenting it.
        await response.body?.cancel();
        forgetModeratorKey(local);
        dispatch({
          type: "server",
          message: {
            type: "error",
            code: "moderator_key_invalid",
            message: "The moderator key was refused",
          },
          now: Date.now(),
        });
        return;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const url = URL.createObjectURL(await response.blob());
      const link = document.createElement("a");
      link.href = url;
      link.download = `chat-${state.room}.${
        format === "json" ? "json" : "txt"
      }`;
      link.click();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch {
      dispatch({ type: "notice", notice: { type: "notConnected" } });
    }
  }

  /**
   * Any stored copy settles an outbox entry, even under another identity: if
   * the session expired while an ack was lost, resending as the new user
   * would store the message twice. Client ids are random UUIDs.
   */
  function settleStored(messages: readonly ChatMessage[]): void {
    let changed = false;
    for (const m of messages) {
      if (outbox.remove(m.clientId)) changed = true;
    }
    if (changed) outboxChanged();
  }

  function onMessage(message: ServerMessage): void {
    if (
      message.type === "error" && message.ref === "rename" &&
      claiming !== undefined
    ) {
      // The remembered name, claimed after the welcome, is not to be had:
      // one notice saying so, not the rename dialog's error.
      const wanted = claiming;
      claiming = undefined;
      dispatch({ type: "nameClaimRefused", wanted });
      return;
    }
    dispatch({ type: "server", message, now: Date.now() });
    switch (message.type) {
      case "welcome": {
        // The server rotates the token; keep the newest (the previous one stays
        // valid only until this one is used).
        resumeToken = message.resumeToken;
        saveIdentity(local, room, {
          resumeToken: message.resumeToken,
          youId: message.you.id,
        });
        saveNow();
        // A name chosen earlier (another tab, before the resume window
        // ended) is claimed again; if it is taken, the temporary one stays.
        claiming = nameToClaim(rememberedName(local), message.you.name);
        if (claiming !== undefined) {
          connection.send({ type: "rename", name: claiming });
        }
        settleStored(message.history);
        // Resending waits for the whole history: a stored copy may be in a
        // later `history` frame.
        historyComplete = !message.moreHistory;
        if (historyComplete) pump.reset();
        break;
      }
      case "history":
        settleStored(message.messages);
        if (!message.more) {
          historyComplete = true;
          pump.reset();
        }
        break;
      case "ack":
        if (outbox.remove(message.id)) outboxChanged();
        pump.settled(message.id);
        break;
      case "chat": {
        const m = message.message;
        if (
          m.kind === undefined &&
          state.hidden && m.from.id !== state.you?.id &&
          mentionsYou(m.text, state.you?.name)
        ) {
          callReader(m.from.name, m.text);
        }
        if (m.from.id === state.you?.id && outbox.remove(m.clientId)) {
          outboxChanged();
          pump.settled(m.clientId);
        }
        break;
      }
      case "renamed":
        if (message.id === state.you?.id) {
          rememberName(local, message.to);
          claiming = undefined;
        }
        break;
      case "error": {
        const ref = message.ref;
        if (message.code === "moderator_key_invalid") {
          // Revoked or mistyped: stop presenting it.
          forgetModeratorKey(local);
        }

        if (ref === undefined || !outbox.has(ref)) break;
        if (
          message.code === "rate_limited" ||
          message.code === "store_unavailable"
        ) {
          // Not a failure: it goes out by itself once the server allows.
          pump.rateLimited(ref, message.retryAfterMs ?? 1000);
        } else if (outbox.fail(ref, message.code)) {
          outboxChanged();
          pump.settled(ref);
        }
        break;
      }
    }
  }

  // The address to share the room by: the server knows this machine's LAN
  // addresses, which a page opened on localhost cannot see.
  fetch("/share.json").then((response) => response.json()).then(
    (body: { urls?: unknown }) => {
      const urls = Array.isArray(body.urls)
        ? body.urls.filter((u): u is string => typeof u === "string")
        : [];
      view.setShareAddress(shareAddress(location, urls));
    },
  ).catch(() => view.setShareAddress(shareAddress(location, [])));

  const connection = new Connection({
    url: `${
      location.protocol === "https:" ? "wss:" : "ws:"
    }//${location.host}/ws`,
    hello() {
      const hello: HelloMessage = { type: "hello", room, tab };
      // Another tab may have resumed (and so rotated the token) since.
      resumeToken = loadIdentity(local, room)?.resumeToken ?? resumeToken;
      if (resumeToken !== undefined) hello.resumeToken = resumeToken;
      const moderatorKey = storedModeratorKey(local);
      if (moderatorKey !== undefined) hello.moderatorKey = moderatorKey;
      if (state.epoch !== undefined) {
        hello.epoch = state.epoch;
        if (state.lastSeq !== undefined) hello.lastSeq = state.lastSeq;
      }
      return hello;
    },
    onMessage,
    onStatus(status) {
      dispatch({ type: "connection", status, now: Date.now() });
    },
  });

  view.showAlerts(alerts);
  view.render(state);

  document.addEventListener("visibilitychange", () => {
    const hidden = document.visibilityState === "hidden";
    dispatch({ type: "visibility", hidden });
    if (!hidden) connection.wake();
  });
  addEventListener("online", () => connection.wake());
  addEventListener("pagehide", () => {
    if (saveTimer !== undefined) saveNow();
  });
  setInterval(() => dispatch({ type: "tick", now: Date.now() }), 1000);

  connection.start();
}

void main();
