import assert from "node:assert/strict";
import { nameProblem } from "./name_check.ts";

Deno.test("name problems are said precisely", () => {
  assert.equal(nameProblem("Ana"), null);
  assert.equal(nameProblem("José María"), null);
  assert.deepEqual(nameProblem("   "), { key: "nameEmpty" });
  assert.deepEqual(nameProblem("x".repeat(40)), { key: "nameTooLong", n: 40 });
  assert.deepEqual(nameProblem("Ana\tB"), { key: "nameOneLine" });
  assert.deepEqual(nameProblem("Ana\nB"), { key: "nameOneLine" });
  assert.deepEqual(nameProblem("Ana!"), { key: "nameBadChar", char: "!" });
  assert.deepEqual(nameProblem("Ana\u200Bx"), {
    key: "nameBadChar",
    char: "U+200B",
  });
  assert.deepEqual(nameProblem("\u0301\u0301"), { key: "nameMarks" });
});
