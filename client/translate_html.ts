/**
 * The page's static text in each language, made at build time from the
 * same dictionaries the script uses, so a Spanish reader never sees the
 * English page first. Pure: HTML in, HTML out; only the attributes the
 * page marks (`data-i18n`, `data-i18n-placeholder`, `data-i18n-aria-label`)
 * are touched.
 */

import { isMessageKey, type Lang, type MessageKey, t } from "./i18n.ts";

function escape(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  ).replace(/"/g, "&quot;");
}

function translated(lang: Lang, key: string, fallback: string): string {
  return isMessageKey(key) ? escape(t(lang, key as MessageKey)) : fallback;
}

export function translateHtml(html: string, lang: Lang): string {
  return html
    .replace(/<html lang="[^"]*"/, `<html lang="${lang}"`)
    // <tag … data-i18n="key">Text</tag>: the text, keeping its spacing.
    .replace(
      /(data-i18n="(\w+)"[^>]*>)(\s*)([^<]*?)(\s*)</g,
      (_, open: string, key: string, before: string, text: string, after) =>
        `${open}${before}${translated(lang, key, text)}${after}<`,
    )
    .replace(
      /(data-i18n-placeholder="(\w+)"\s+placeholder=")[^"]*"/g,
      (_, start: string, key: string) =>
        `${start}${translated(lang, key, "")}"`,
    )
    .replace(
      /(data-i18n-aria-label="(\w+)"\s+aria-label=")[^"]*"/g,
      (_, start: string, key: string) =>
        `${start}${translated(lang, key, "")}"`,
    );
}
