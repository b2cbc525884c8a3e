import assert from "node:assert/strict";
import {
  findMentions,
  mentionQuery,
  mentionsYou,
  suggestNames,
} from "./mentions.ts";

Deno.test("mentions match members' names, the longest first, at word ends", () => {
  const names = ["Ana", "Puma", "Puma 12", "Bea"];
  assert.deepEqual(findMentions("hola @Puma 12 y @ana!", names), [
    { start: 5, end: 13, name: "Puma 12" },
    { start: 16, end: 20, name: "Ana" },
  ]);
  assert.deepEqual(findMentions("@Anabel no", names), [], "not inside a word");
  assert.deepEqual(findMentions("ana@bea.org", names), [], "an address");
  assert.deepEqual(findMentions("@nobody", names), []);
  assert.deepEqual(findMentions("no at sign", names), []);
});

Deno.test("mentionsYou is case-insensitive and needs a name", () => {
  assert.equal(mentionsYou("@ana ven", "Ana"), true);
  assert.equal(mentionsYou("ana ven", "Ana"), false);
  assert.equal(mentionsYou("@ana ven", undefined), false);
});

Deno.test("the mention being typed is found before the caret, and names are suggested", () => {
  assert.deepEqual(mentionQuery("hola @Pu", 8), { start: 5, query: "Pu" });
  assert.deepEqual(mentionQuery("@", 1), { start: 0, query: "" });
  assert.deepEqual(mentionQuery("hola @Puma 1", 12), {
    start: 5,
    query: "Puma 1",
  });
  assert.equal(mentionQuery("ana@ex", 6), null, "an address");
  assert.equal(mentionQuery("hola", 4), null);
  assert.deepEqual(
    suggestNames("pu", ["Puma 12", "Bea", "Puma 3", "Pulga"], "Pulga"),
    ["Puma 12", "Puma 3"],
  );
  assert.deepEqual(suggestNames("", ["B", "A"], undefined), ["A", "B"]);
});
