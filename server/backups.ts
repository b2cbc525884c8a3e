/**
 * Scheduled and on-demand snapshots of the SQLite database into a
 * `backups` directory beside it, keeping the newest N scheduled ones.
 * The copy itself is `SqliteStore.snapshot` (SQLite's online backup); this module is
 * the file handling around it: a temporary name until the copy is complete
 * (a half-written file is never taken for a backup), then a rename.
 */

/** What a snapshot needs of the store. */
export interface Snapshottable {
  snapshot(path: string): Promise<void>;
}

export interface BackupsOptions {
  store: Snapshottable;
  /** Directory for the snapshots; created if missing. */
  dir: string;
  /** Scheduled snapshots kept; on-demand ones are never deleted. */
  keep: number;
  log: (level: "info" | "warn" | "error", message: string) => void;
  now?: () => Date;
}

export interface BackupResult {
  path: string;
  bytes: number;
  /** How long the chat waited for the copy. */
  ms: number;
}

const SCHEDULED = /^chat-\d{8}T\d{6}Z\.db$/;

/** `chat-20261203T235900Z.db`: sorts by time, safe on every filesystem. */
export function backupName(at: Date, kind: "scheduled" | "manual"): string {
  const stamp = at.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  return kind === "scheduled" ? `chat-${stamp}.db` : `chat-${stamp}-manual.db`;
}

/** The scheduled snapshots to delete so that `keep` remain (oldest first). */
export function backupsToPrune(names: string[], keep: number): string[] {
  const scheduled = names.filter((name) => SCHEDULED.test(name)).sort();
  return scheduled.slice(0, Math.max(0, scheduled.length - keep));
}

export class Backups {
  readonly dir: string;
  #store: Snapshottable;
  #keep: number;
  #log: BackupsOptions["log"];
  #now: () => Date;
  #busy = false;

  constructor(options: BackupsOptions) {
    this.dir = options.dir.replace(/\/+$/, "") || "/";
    this.#store = options.store;
    this.#keep = options.keep;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
  }

  /** Takes one snapshot; logs and returns null if it could not. */
  async take(kind: "scheduled" | "manual"): Promise<BackupResult | null> {
    // One at a time: a slow disk must not pile copies up.
    if (this.#busy) {
      this.#log("warn", "a backup is still being written; this one is skipped");
      return null;
    }
    this.#busy = true;
    try {
      return await this.#take(kind);
    } finally {
      this.#busy = false;
    }
  }

  async #take(kind: "scheduled" | "manual"): Promise<BackupResult | null> {
    const path = `${this.dir}/${backupName(this.#now(), kind)}`;
    const partial = `${path}.partial`;
    const startedAt = performance.now();
    let bytes = 0;
    try {
      Deno.mkdirSync(this.dir, { recursive: true });
      removeIfThere(partial);
      await this.#store.snapshot(partial);
      Deno.renameSync(partial, path);
      bytes = Deno.statSync(path).size;
    } catch (error) {
      removeIfThere(partial);
      this.#log(
        "error",
        `backup to ${path} failed: ${
          error instanceof Error ? error.message : error
        }`,
      );
      return null;
    }
    const ms = Math.round(performance.now() - startedAt);
    this.#log("info", `backup written to ${path} (${bytes} bytes, ${ms} ms)`);
    if (kind === "scheduled") this.#prune();
    return { path, bytes, ms };
  }

  #prune(): void {
    try {
      const names = [...Deno.readDirSync(this.dir)].map((e) => e.name);
      for (const name of backupsToPrune(names, this.#keep)) {
        Deno.removeSync(`${this.dir}/${name}`);
      }
    } catch (error) {
      this.#log("warn", `could not delete old backups: ${error}`);
    }
  }
}

function removeIfThere(path: string): void {
  try {
    Deno.removeSync(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
