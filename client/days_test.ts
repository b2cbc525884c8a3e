import assert from "node:assert/strict";
import { continuesGroup, dayKey, dayLabel } from "./days.ts";

const at = (text: string) => new Date(text).getTime();

Deno.test("day labels: today, yesterday, then the date in the reader's language", () => {
  const now = at("2026-12-03T15:00:00");
  assert.equal(dayLabel(at("2026-12-03T08:00:00"), now, "en"), "Today");
  assert.equal(dayLabel(at("2026-12-03T08:00:00"), now, "es"), "Hoy");
  assert.equal(dayLabel(at("2026-12-02T23:59:00"), now, "en"), "Yesterday");
  assert.equal(dayLabel(at("2026-12-02T23:59:00"), now, "es"), "Ayer");
  assert.equal(
    dayLabel(at("2026-11-30T10:00:00"), now, "en"),
    "Monday, November 30",
  );
  assert.equal(
    dayLabel(at("2026-11-30T10:00:00"), now, "es"),
    "lunes, 30 de noviembre",
  );
  assert.equal(dayLabel(at("2026-10-01T10:00:00"), now, "en"), "October 1");
  assert.equal(
    dayLabel(at("2025-10-01T10:00:00"), now, "en"),
    "October 1, 2025",
  );
  assert.equal(dayKey(at("2026-12-03T00:00:01")), "2026-12-03");
});

Deno.test("one author's messages group within five minutes of the day", () => {
  const a = { author: "ana", time: at("2026-12-03T10:00:00") };
  assert.equal(continuesGroup(undefined, a), false);
  assert.equal(
    continuesGroup(a, { author: "ana", time: at("2026-12-03T10:04:00") }),
    true,
  );
  assert.equal(
    continuesGroup(a, { author: "ana", time: at("2026-12-03T10:06:00") }),
    false,
  );
  assert.equal(
    continuesGroup(a, { author: "bea", time: at("2026-12-03T10:01:00") }),
    false,
  );
  const late = { author: "ana", time: at("2026-12-03T23:59:00") };
  assert.equal(
    continuesGroup(late, { author: "ana", time: at("2026-12-04T00:01:00") }),
    false,
    "a new day starts a new group",
  );
});
