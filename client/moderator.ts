/**
 * The moderator key in this browser: taken from the moderator link's
 * fragment (`#mod=…`, which never reaches the server's logs), kept in
 * localStorage, sent in each hello, and forgotten when the server refuses
 * it. Pure functions over a Storage-like object.
 */

import { readItem, type StorageLike, writeItem } from "./storage.ts";

export const MODERATOR_KEY_STORAGE = "chat:moderator-key";
/** Like the server's bound: a longer value is not a key of ours. */
const MAX_KEY_CHARS = 128;

/** The key in a location hash such as "#mod=abc", if there is one. */
export function keyFromHash(hash: string): string | undefined {
  const match = /^#mod=([A-Za-z0-9_\-.~!$&'()*+,;:@%]+)$/.exec(hash);
  if (!match?.[1] || match[1].length > MAX_KEY_CHARS) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    return undefined;
  }
}

export function storedModeratorKey(storage: StorageLike): string | undefined {
  const key = readItem(storage, MODERATOR_KEY_STORAGE);
  return key && key.length <= MAX_KEY_CHARS ? key : undefined;
}

export function storeModeratorKey(storage: StorageLike, key: string): void {
  writeItem(storage, MODERATOR_KEY_STORAGE, key);
}

export function forgetModeratorKey(storage: StorageLike): void {
  try {
    storage.removeItem(MODERATOR_KEY_STORAGE);
  } catch {
    // Blocked storage kept nothing to forget.
  }
}
