/**
 * The name a person chose, remembered by the browser for every room and
 * tab, so it is claimed again after the resume window or in a new tab.
 */

import { readItem, type StorageLike, writeItem } from "./storage.ts";

export const NAME_STORAGE_KEY = "chat:name";
/** Longer than any valid name; anything else found there is ignored. */
const MAX_STORED_CHARS = 200;

export function rememberedName(storage: StorageLike): string | undefined {
  const name = readItem(storage, NAME_STORAGE_KEY);
  return name && name.length <= MAX_STORED_CHARS && name.trim() !== ""
    ? name
    : undefined;
}

export function rememberName(storage: StorageLike, name: string): void {
  writeItem(storage, NAME_STORAGE_KEY, name);
}

/**
 * After a welcome: the name to claim with a rename, if the one remembered
 * is not the one the server gave.
 */
export function nameToClaim(
  remembered: string | undefined,
  given: string,
): string | undefined {
  return remembered !== undefined && remembered !== given
    ? remembered
    : undefined;
}
