import { z } from 'zod';
import addressparser from 'nodemailer/lib/addressparser';

/**
 * The shared vocabulary for checking what people and operators give us (environment variables,
 * command-line flags, stored JSON settings): one wording per kind of mistake, naming the field and
 * quoting what it got.
 */

/** A person-readable line for the first problem zod found. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issue.message : 'invalid input';
}

/** Parses `input` with `schema`, or throws `fail(first problem's message)`. */
export function parseOr<T>(schema: z.ZodType<T>, input: unknown, fail: (message: string) => Error): T {
  const result = schema.safeParse(input);
  if (!result.success) throw fail(firstIssue(result.error));
  return result.data;
}

/** A message: fixed, or built from the input that was refused. */
export type Message = string | ((input: unknown) => string);
const messageFor = (message: Message) => ({
  error: (issue: { input?: unknown }) => (typeof message === 'string' ? message : message(issue.input)),
});

/** `got "abc"` (text, quoted on one line) or `got -1` (a JSON value as written). */
export const got = (input: unknown) => `got ${typeof input === 'string' ? quoteInput(input) : String(JSON.stringify(input))}`;

/** `PORT must be an integer between 1 and 65535, got "abc"`. */
export const mustBeIntegerBetween = (name: string, min: number, max: number) => (input: unknown) =>
  `${name} must be an integer between ${min} and ${max}, ${got(input)}`;

/** `SMTP_SECURE must be true or false, got "maybe"`. */
export const mustBeTrueOrFalse = (name: string) => (input: unknown) => `${name} must be true or false, ${got(input)}`;

/**
 * A whole number from `min` to `max`, given as
 * - 'number': a JSON number (stored settings);
 * - 'text': decimal digits, surrounding spaces ignored (environment variables, command-line flags);
 *   no sign, exponent, hex or fraction, so `1e3` and `0x10` are refused rather than reinterpreted;
 * - 'either': both (a pasted config: Logto writes `"port": 587`, some people `"587"`).
 */
export function integerIn(min: number, max: number, message: Message, given: 'number' | 'text' | 'either' = 'number') {
  const error = messageFor(message);
  const number = z.number(error).int(error).min(min, error).max(max, error);
  const digits = /^\d+$/;
  if (given === 'number') return number;
  if (given === 'text') {
    return z
      .string(error)
      .trim()
      .refine((value) => digits.test(value) && Number(value) >= min && Number(value) <= max, error)
      .transform(Number);
  }
  return z.union([z.number(), z.string().trim().regex(digits).transform(Number)], error).pipe(number);
}

/** A one-of-these-words value: `NODE_ENV must be one of development, production, test, got "prod"`. */
export function oneOf<const T extends readonly [string, ...string[]]>(name: string, values: T) {
  return z.enum(values, messageFor((input) => `${name} must be one of ${values.join(', ')}, ${got(input)}`));
}

/**
 * true or false typed as text. 'loose' (environment variables): true/false, yes/no, 1/0 in any case,
 * surrounding spaces ignored; 'strict' (command-line flags): exactly `true` or `false`.
 */
export function booleanWord(message: Message, words: 'loose' | 'strict' = 'loose') {
  const error = messageFor(message);
  if (words === 'strict') return z.stringbool({ truthy: ['true'], falsy: ['false'], case: 'sensitive', ...error });
  return z
    .string(error)
    .trim()
    .toLowerCase()
    .pipe(z.stringbool({ truthy: ['true', '1', 'yes'], falsy: ['false', '0', 'no'], ...error }));
}

const LINE_BREAK = /[\r\n]/;

/**
 * True when `value` holds exactly one mailbox with an @, a display name allowed:
 * `no-reply@example.com` or `Sesame <no-reply@example.com>`. The one check for the addresses mail
 * is sent from (SMTP_FROM, the connector's fromEmail and replyTo) and to; an address a person signs
 * in with is normalizeEmail's business (src/sign-in/email.ts), which is stricter and normalises.
 */
export function isSingleMailbox(value: string): boolean {
  if (LINE_BREAK.test(value)) return false;
  const parsed = addressparser(value);
  if (parsed.length !== 1) return false;
  const entry = parsed[0];
  if (!entry || entry.group !== undefined) return false;
  const at = entry.address.lastIndexOf('@');
  return at > 0 && at < entry.address.length - 1 && !/\s/.test(entry.address);
}

/** A From/Reply-To mailbox (see isSingleMailbox), trimmed; an empty one too when `allowEmpty`. */
export function mailbox(message: Message, options: { notText?: Message; allowEmpty?: boolean } = {}) {
  return z
    .string(messageFor(options.notText ?? message))
    .trim()
    .refine((value) => (options.allowEmpty && value === '') || isSingleMailbox(value), messageFor(message));
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

/** The display name of an app or API resource: trimmed, 1 to 128 characters, one line. */
export const displayName = () =>
  z
    .string({ error: 'name is required' })
    .trim()
    .min(1, 'name is required')
    .max(128, 'name must be at most 128 characters')
    .refine((name) => !hasControlCharacter(name), 'name must not contain line breaks or control characters');
