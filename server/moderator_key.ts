/**
 * The moderator key: a random secret whose link (`/#mod=…`, a fragment, so
 * it never reaches logs or proxies) makes a browser a moderator of every
 * room. Only its SHA-256 hash is kept, in the data directory; the key is
 * shown once, when it is made. `--new-moderator-link` makes a new one and
 * the old stops working, also in a chat that is running (the file is
 * looked at again when a key is checked). `--moderator-key-file` reads a
 * key the operator keeps instead, and writes nothing.
 */

import { createHash, timingSafeEqual } from "node:crypto";

/** Where the hash lives, inside the data directory. */
export const KEY_HASH_FILE = "moderator-key.sha256";
/** 24 random bytes: 192 bits, 32 base64url characters. */
const KEY_BYTES = 24;
/** The shortest key accepted from --moderator-key-file (128 bits' worth). */
export const MIN_KEY_FILE_CHARS = 22;

function sha256(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
    .replaceAll("/", "_").replace(/=+$/, "");
}

export function newModeratorKey(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(KEY_BYTES)));
}

/** Checks keys against the hash; `matches` is what the hub asks. */
export interface ModeratorKeys {
  matches(key: string): boolean;
}

/** Compares in constant time: a wrong key tells nothing of the right one. */
export function keyMatches(key: string, hash: Uint8Array): boolean {
  const candidate = sha256(key);
  return candidate.length === hash.length && timingSafeEqual(candidate, hash);
}

/** A key known only to this process (a `:memory:` chat, tests). */
export class FixedModeratorKey implements ModeratorKeys {
  #hash: Uint8Array;
  constructor(key: string) {
    this.#hash = sha256(key);
  }
  matches(key: string): boolean {
    return keyMatches(key, this.#hash);
  }
}

/**
 * The hash in the data directory, read again when the file changes, so a
 * new link made while the chat runs revokes the old one at once.
 */
export class StoredModeratorKey implements ModeratorKeys {
  readonly path: string;
  #hash: Uint8Array | null = null;
  #stamp = "";
  #log: (message: string) => void;

  constructor(path: string, log: (message: string) => void) {
    this.path = path;
    this.#log = log;
    this.#reload();
  }

  matches(key: string): boolean {
    this.#reload();
    return this.#hash !== null && keyMatches(key, this.#hash);
  }

  #reload(): void {
    try {
      const info = Deno.statSync(this.path);
      const stamp = `${info.mtime?.getTime()}:${info.ino}:${info.size}`;
      if (stamp === this.#stamp) return;
      const hex = Deno.readTextFileSync(this.path).trim();
      if (!/^[0-9a-f]{64}$/.test(hex)) {
        throw new Error("it does not hold a SHA-256 hash");
      }
      this.#hash = Uint8Array.from(
        hex.match(/../g)!,
        (pair) => parseInt(pair, 16),
      );
      this.#stamp = stamp;
    } catch (error) {
      // No key file, no moderators: refusing is the safe side.
      if (this.#hash !== null || this.#stamp !== "missing") {
        this.#log(
          `moderator key "${this.path}" unreadable (${
            error instanceof Error ? error.message : error
          }); moderator links are refused until it is fixed`,
        );
      }
      this.#hash = null;
      this.#stamp = "missing";
    }
  }
}

/** Writes a new key's hash (replacing any), returning the key to show once. */
export function writeNewKey(path: string): string {
  const key = newModeratorKey();
  const hex = Array.from(sha256(key), (b) => b.toString(16).padStart(2, "0"))
    .join("");
  const partial = `${path}.partial`;
  Deno.writeTextFileSync(partial, `${hex}\n`, { mode: 0o600 });
  Deno.renameSync(partial, path);
  return key;
}

/** Reads an operator's key file: the key is its first line. */
export function readKeyFile(path: string): string {
  const key = Deno.readTextFileSync(path).split("\n")[0]?.trim() ?? "";
  if (key.length < MIN_KEY_FILE_CHARS || !/^[\x21-\x7e]+$/.test(key)) {
    throw new Error(
      `the moderator key in "${path}" must be at least ${MIN_KEY_FILE_CHARS} printable characters without spaces (e.g. from: openssl rand -base64 24)`,
    );
  }
  return key;
}

/** The moderator link for a key, on the address people open. */
export function moderatorLink(base: string, key: string): string {
  const url = new URL(base);
  url.hash = `mod=${key}`;
  return url.href;
}
