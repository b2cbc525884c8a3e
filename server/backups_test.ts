import assert from "node:assert/strict";
import { backupName, Backups, backupsToPrune } from "./backups.ts";

Deno.test("backup names sort by time and tell scheduled from manual", () => {
  const at = new Date("2026-12-03T23:59:07.123Z");
  assert.equal(backupName(at, "scheduled"), "chat-20261203T235907Z.db");
  assert.equal(backupName(at, "manual"), "chat-20261203T235907Z-manual.db");
});

Deno.test("pruning keeps the newest scheduled backups and never touches others", () => {
  const names = [
    "chat-20261203T100000Z.db",
    "chat-20261203T120000Z.db",
    "chat-20261203T110000Z.db",
    "chat-20261203T090000Z-manual.db",
    "chat-20261203T130000Z.db.partial",
    "notes.txt",
  ];
  assert.deepEqual(backupsToPrune(names, 2), ["chat-20261203T100000Z.db"]);
  assert.deepEqual(backupsToPrune(names, 5), []);
});

Deno.test("a failed copy leaves no file behind and is logged", async () => {
  const dir = Deno.makeTempDirSync({ prefix: "chat-backups-" });
  const logged: string[] = [];
  try {
    const backups = new Backups({
      store: {
        snapshot(path) {
          Deno.writeTextFileSync(path, "half a copy");
          return Promise.reject(new Error("disk full"));
        },
      },
      dir,
      keep: 2,
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    assert.equal(await backups.take("scheduled"), null);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
    assert.match(logged.join("\n"), /^error backup to .* failed: disk full/);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
