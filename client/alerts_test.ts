import assert from "node:assert/strict";
import { faviconHref, loadAlertSettings, saveAlertSettings } from "./alerts.ts";
import { MemoryStorage } from "./storage.ts";

Deno.test("alert settings default to sound on, notifications off, and are kept", () => {
  const storage = new MemoryStorage();
  assert.deepEqual(loadAlertSettings(storage), { sound: true, notify: false });
  saveAlertSettings(storage, { sound: false, notify: true });
  assert.deepEqual(loadAlertSettings(storage), { sound: false, notify: true });
});

Deno.test("the tab icon carries a dot only while you are called", () => {
  assert.match(decodeURIComponent(faviconHref(true)), /<circle/);
  assert.doesNotMatch(decodeURIComponent(faviconHref(false)), /<circle/);
  assert.match(faviconHref(false), /^data:image\/svg\+xml,/);
});
