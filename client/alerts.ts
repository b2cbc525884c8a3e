/**
 * Being called while away: an optional short sound and a desktop
 * notification when a message mentions you and the tab is hidden, and a
 * mark on the tab's icon. Each is switched per browser and kept in storage.
 * The browser APIs are passed in, so this is testable without them.
 */

import { readItem, type StorageLike, writeItem } from "./storage.ts";

export const SOUND_KEY = "chat:mention-sound";
export const NOTIFY_KEY = "chat:mention-notify";

export interface AlertSettings {
  sound: boolean;
  notify: boolean;
}

/** Sound on by default (it only plays when mentioned); notifications off. */
export function loadAlertSettings(storage: StorageLike): AlertSettings {
  return {
    sound: readItem(storage, SOUND_KEY) !== "off",
    notify: readItem(storage, NOTIFY_KEY) === "on",
  };
}

export function saveAlertSettings(
  storage: StorageLike,
  settings: AlertSettings,
): void {
  writeItem(storage, SOUND_KEY, settings.sound ? "on" : "off");
  writeItem(storage, NOTIFY_KEY, settings.notify ? "on" : "off");
}

/** The tab's icon: a speech bubble, with a red dot while you are called. */
export function faviconHref(called: boolean): string {
  const dot = called
    ? '<circle cx="24" cy="8" r="7" fill="#d32f2f" stroke="white" stroke-width="2"/>'
    : "";
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><path d="M4 6h18a4 4 0 0 1 4 4v10a4 4 0 0 1-4 4H12l-6 5v-5H4a4 4 0 0 1-4-4V10a4 4 0 0 1 4-4z" fill="#4f46e5"/>${dot}</svg>`;
  return `data:image/svg+xml,${encodeURIComponent(svg)}`;
}
