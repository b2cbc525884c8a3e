import assert from "node:assert/strict";
import {
  nameToClaim,
  rememberedName,
  rememberName,
} from "./remembered_name.ts";
import { MemoryStorage } from "./storage.ts";

Deno.test("a remembered name is claimed only when the server gave another", () => {
  const storage = new MemoryStorage();
  assert.equal(rememberedName(storage), undefined);
  assert.equal(nameToClaim(rememberedName(storage), "Panda 12"), undefined);
  rememberName(storage, "Ana");
  assert.equal(nameToClaim(rememberedName(storage), "Panda 12"), "Ana");
  assert.equal(nameToClaim(rememberedName(storage), "Ana"), undefined);
  // Junk found in storage is ignored.
  storage.setItem("chat:name", "   ");
  assert.equal(rememberedName(storage), undefined);
  storage.setItem("chat:name", "x".repeat(500));
  assert.equal(rememberedName(storage), undefined);
});
