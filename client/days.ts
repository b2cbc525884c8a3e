/**
 * Day separators and message grouping, as the reader's calendar sees them.
 * Pure: times in, keys and labels out; the clock and language are passed in.
 */

/** The reader's local calendar day of `time`, e.g. "2026-12-03". */
export function dayKey(time: number): string {
  const d = new Date(time);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${
    String(d.getDate()).padStart(2, "0")
  }`;
}

/** Local midnight of the day `time` falls on. */
function startOfDay(time: number): number {
  const d = new Date(time);
  return new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime();
}

/**
 * "Today", "Yesterday" (in the reader's language, via Intl), else the date:
 * with the weekday within a week, with the year when it is not this year.
 */
export function dayLabel(time: number, now: number, lang: string): string {
  const days = Math.round((startOfDay(now) - startOfDay(time)) / 86_400_000);
  if (days === 0 || days === 1) {
    const relative = new Intl.RelativeTimeFormat(lang, { numeric: "auto" })
      .format(-days, "day");
    return relative.charAt(0).toLocaleUpperCase(lang) + relative.slice(1);
  }
  const sameYear = new Date(time).getFullYear() === new Date(now).getFullYear();
  return new Intl.DateTimeFormat(lang, {
    ...(days > 0 && days < 7 ? { weekday: "long" } : {}),
    day: "numeric",
    month: "long",
    ...(sameYear ? {} : { year: "numeric" }),
  }).format(time);
}

/** Messages of one author this close together share one name. */
export const GROUP_WITHIN_MS = 5 * 60_000;

/** Whether a message continues the previous one's group. */
export function continuesGroup(
  previous: { author: string; time: number } | undefined,
  current: { author: string; time: number },
): boolean {
  return previous !== undefined && previous.author === current.author &&
    current.time - previous.time >= 0 &&
    current.time - previous.time < GROUP_WITHIN_MS &&
    dayKey(previous.time) === dayKey(current.time);
}
