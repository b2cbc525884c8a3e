/**
 * Links in chat text: which parts of a message are web addresses, found by
 * linkify-it (the matcher markdown-it uses) rather than a hand-made regex.
 * Pure: returns segments; the view builds DOM nodes from them, never HTML.
 *
 * Only http and https become links (a bare "www.…" is opened as https);
 * every other scheme (javascript:, data:, mailto:, …) stays text. A host
 * that mixes scripts within a label ("pаypal.com" with a Cyrillic "а") is
 * shown in punycode, so it cannot pass for the real one.
 */

// Pinned here, not in deno.json's imports: an entry there would make
// `deno task start` download it (the committed build already holds it).
// deno-lint-ignore no-import-prefix
import { LinkifyIt } from "npm:linkify-it@6.1.0";

export type Segment =
  | { readonly kind: "text"; readonly text: string }
  | {
    readonly kind: "link";
    /** What the page shows: as typed, but for a disguised host. */
    readonly text: string;
    /** Where it goes: always http: or https:. */
    readonly href: string;
  };

const matcher = new LinkifyIt({ fuzzyLink: true, fuzzyEmail: false })
  // Only the web: mailto:, ftp: and protocol-relative "//host" stay text.
  .add("mailto:", null)
  .add("ftp:", null)
  .add("//", null);

/** Scripts whose letters can imitate each other in a host name. */
const SCRIPTS = [
  /\p{Script=Latin}/u,
  /\p{Script=Cyrillic}/u,
  /\p{Script=Greek}/u,
  /\p{Script=Armenian}/u,
  /\p{Script=Cherokee}/u,
  /\p{Script=Lisu}/u,
  /\p{Script=Coptic}/u,
  /\p{Script=Georgian}/u,
];

/** Whether one label of a host mixes letters of look-alike scripts. */
export function mixesScripts(host: string): boolean {
  return host.split(".").some((label) =>
    SCRIPTS.filter((script) => script.test(label)).length > 1
  );
}

/** The message's text, cut into plain text and safe links. */
export function linkSegments(text: string): Segment[] {
  const matches = matcher.match(text);
  if (!matches) return [{ kind: "text", text }];
  const segments: Segment[] = [];
  let at = 0;
  for (const match of matches) {
    const link = safeLink(match.raw, match.url);
    if (!link) continue;
    if (match.index > at) {
      segments.push({ kind: "text", text: text.slice(at, match.index) });
    }
    segments.push(link);
    at = match.lastIndex;
  }
  if (at < text.length) segments.push({ kind: "text", text: text.slice(at) });
  return segments.length > 0 ? segments : [{ kind: "text", text }];
}

function safeLink(raw: string, url: string): Segment | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  // Typed without a scheme ("www.…"): the secure one.
  if (!/^https?:/i.test(raw) && parsed.protocol === "http:") {
    parsed.protocol = "https:";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return null;
  // URL gives the host in punycode already; show it when the typed one
  // mixes scripts (the typed text, with that host replaced).
  const typedHost = hostOf(raw);
  const shown = typedHost && mixesScripts(typedHost)
    ? raw.replace(typedHost, parsed.hostname)
    : raw;
  return { kind: "link", text: shown, href: parsed.href };
}

/** The host part of an address as typed ("https://a.b/c" → "a.b"). */
function hostOf(raw: string): string | undefined {
  const withoutScheme = raw.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  return /^[^/?#:@\s]+/u.exec(withoutScheme)?.[0];
}
