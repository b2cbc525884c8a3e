/**
 * One person, several tabs. The identity (resume token, user id) of a room
 * is shared by every tab of the browser through localStorage, so a new tab
 * resumes the same session and the server makes it one more connection of
 * the same member. Each tab also has its own id (sessionStorage: a reload
 * keeps it, so its outbox survives), which must be unique among open tabs:
 * a duplicated tab copies sessionStorage, so it asks the others first.
 */

import {
  isRecord,
  parseJson,
  readItem,
  type StorageLike,
  writeItem,
} from "./storage.ts";

export interface Identity {
  resumeToken: string;
  youId: string;
}

export function identityKey(room: string): string {
  return `chat.identity.${room}`;
}

export function loadIdentity(
  storage: StorageLike,
  room: string,
): Identity | undefined {
  const data = parseJson(readItem(storage, identityKey(room)));
  if (
    !isRecord(data) || typeof data["resumeToken"] !== "string" ||
    typeof data["youId"] !== "string" || data["resumeToken"].length > 128
  ) {
    return undefined;
  }
  return { resumeToken: data["resumeToken"], youId: data["youId"] };
}

export function saveIdentity(
  storage: StorageLike,
  room: string,
  identity: Identity,
): void {
  writeItem(storage, identityKey(room), JSON.stringify(identity));
}

const TAB_KEY = "chat.tab";
const VALID_TAB = /^[\w-]{1,64}$/;

/** The part of BroadcastChannel used here. */
export interface TabChannel {
  postMessage(message: unknown): void;
  addEventListener(
    type: "message",
    listener: (event: { data: unknown }) => void,
  ): void;
}

/**
 * This tab's id: the one sessionStorage kept, unless another open tab
 * answers that it is theirs (this tab is a duplicate), then a new one.
 * `reloaded`: the page was reloaded, so the id cannot be another tab's and
 * nobody is asked. Keeps answering for the id for the tab's life.
 */
export async function uniqueTabId(options: {
  storage: StorageLike;
  makeId: () => string;
  channel: TabChannel | null;
  reloaded: boolean;
  waitMs?: number;
}): Promise<string> {
  const { storage, makeId, channel } = options;
  const stored = readItem(storage, TAB_KEY);
  let id = stored !== null && VALID_TAB.test(stored) ? stored : "";
  const fresh = () => {
    id = makeId();
    writeItem(storage, TAB_KEY, id);
  };
  if (id === "") fresh();
  if (channel === null) return id;
  let taken = false;
  const asked = id;
  channel.addEventListener("message", ({ data }) => {
    if (!isRecord(data) || typeof data["id"] !== "string") return;
    if (data["type"] === "claim" && data["id"] === id) {
      channel.postMessage({ type: "taken", id });
    } else if (data["type"] === "taken" && data["id"] === asked) {
      taken = true;
    }
  });
  if (stored === null || options.reloaded) return id;
  channel.postMessage({ type: "claim", id });
  await new Promise((resolve) => setTimeout(resolve, options.waitMs ?? 100));
  if (taken) fresh();
  return id;
}
