import assert from "node:assert/strict";
import { linkSegments, mixesScripts } from "./links.ts";

const links = (text: string) =>
  linkSegments(text).filter((s) => s.kind === "link");

Deno.test("http, https and www addresses become links; the text stays as typed", () => {
  assert.deepEqual(linkSegments("see https://example.org/a?b=1 now"), [
    { kind: "text", text: "see " },
    {
      kind: "link",
      text: "https://example.org/a?b=1",
      href: "https://example.org/a?b=1",
    },
    { kind: "text", text: " now" },
  ]);
  assert.deepEqual(links("www.example.org"), [
    { kind: "link", text: "www.example.org", href: "https://www.example.org/" },
  ]);
  assert.deepEqual(linkSegments("no links here"), [
    { kind: "text", text: "no links here" },
  ]);
});

Deno.test("other schemes are never links", () => {
  for (
    const text of [
      "javascript:alert(1)",
      "data:text/html,<script>alert(1)</script>",
      "mailto:ana@example.org",
      "ftp://example.org/file",
      "vbscript:msgbox(1)",
      "file:///etc/passwd",
    ]
  ) {
    assert.deepEqual(links(text), [], text);
  }
});

Deno.test("a host that mixes scripts is shown in punycode", () => {
  assert.equal(mixesScripts("pаypal.com"), true); // Cyrillic а
  assert.equal(mixesScripts("paypal.com"), false);
  assert.equal(mixesScripts("пример.рф"), false); // all Cyrillic
  const [link] = links("https://pаypal.com/login");
  assert.ok(link && link.kind === "link");
  assert.equal(link.text, "https://xn--pypal-4ve.com/login");
  assert.equal(link.href, "https://xn--pypal-4ve.com/login");
});

Deno.test("HTML in an address stays text in the href, never markup", () => {
  const [link] = links('https://example.org/"><img src=x onerror=alert(1)>');
  assert.ok(link && link.kind === "link");
  assert.ok(!link.href.includes("<"), link.href);
  assert.ok(link.href.startsWith("https://example.org/"));
});
