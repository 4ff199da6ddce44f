import type { z } from 'zod';

/** A person-readable line for the first problem zod found. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issue.message : 'invalid input';
}

/**
 * Whitespace (any Unicode space or line break) and control or invisible format characters. A URI
 * never contains them literally (RFC 3986 needs them percent-encoded), yet WHATWG URL parsing
 * silently strips leading/trailing spaces and inner tabs/newlines, so `new URL()` alone would accept
 * ` http://a/cb` and the value would be stored as typed and never match a request.
 */
const WHITESPACE_OR_CONTROL = /[\s\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

export function hasWhitespaceOrControl(value: string): boolean {
  return WHITESPACE_OR_CONTROL.test(value);
}

/** Control characters (line breaks, tabs, NUL, ...): refused in names that are printed one per line. */
const CONTROL = /[\p{Cc}\p{Zl}\p{Zp}]/u;

export function hasControlCharacter(value: string): boolean {
  return CONTROL.test(value);
}

/** Quotes a value someone typed for an error message: always one line, never a screenful. */
export function quoteInput(value: unknown, max = 100): string {
  const text = typeof value === 'string' ? value : String(value);
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  // JSON.stringify escapes C0 controls and quotes; invisible and line-separating characters too.
  return JSON.stringify(cut).replace(/[\u0080-\u009f\p{Cf}\p{Zl}\p{Zp}]/gu, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** How deep JSON documents we store may nest (objects and arrays count one level each). */
export const MAX_JSON_DEPTH = 32;

/**
 * True when `value` nests objects/arrays more than `limit` levels deep. Walks with an explicit
 * stack rather than recursion, so a value nested thousands deep (which JSON.parse accepts) is
 * measured without a RangeError; it stops as soon as the limit is passed.
 */
export function nestedDeeperThan(value: unknown, limit: number = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (typeof current !== 'object' || current === null) continue;
    const level = depth + 1;
    if (level > limit) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof child === 'object' && child !== null) stack.push([child, level]);
    }
  }
  return false;
}
