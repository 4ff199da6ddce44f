import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import { quoteInput } from '../lib/validation.ts';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/**
 * A mistake in how the command was called, including an ID or email that names nothing: printed
 * as one line, exit code 2, nothing written.
 */
export class UsageError extends Error {}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export type Handler = (args: string[], ctx: { config: Readonly<Config>; db: () => Promise<Database>; io: Io }) => Promise<number>;

/** Quotes what someone typed for a message: one line, at most 100 characters. */
export const quote = (value: unknown) => quoteInput(value);

/**
 * `--code-ttl-minutes -1` is a value, not a flag: node's parseArgs refuses any value starting with
 * a dash as "ambiguous" (in three lines). A dash-leading word after a string option is taken as
 * its value unless it is one of this command's own options, so validation can name the allowed
 * range instead.
 */
function joinDashValues(args: string[], options: ParseArgsOptionsConfig): string[] {
  const isOwnOption = (word: string) => {
    if (word.startsWith('--')) return Object.hasOwn(options, word.slice(2).split('=')[0] ?? '');
    return Object.values(options).some((option) => option.short !== undefined && word.startsWith(`-${option.short}`));
  };
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word === '--') {
      out.push(...args.slice(i));
      break;
    }
    const next = args[i + 1];
    const name = /^--([^=]+)$/.exec(word)?.[1];
    if (name && Object.hasOwn(options, name) && options[name]!.type === 'string' && next !== undefined && next.startsWith('-') && next !== '--' && !isOwnOption(next)) {
      out.push(`${word}=${next}`);
      i++;
    } else {
      out.push(word);
    }
  }
  return out;
}

/** parseArgs' own messages span several lines and name node internals; one short line instead. */
function describeParseError(error: Error & { code?: string }): string {
  const firstLine = (error.message.split('\n')[0] ?? '').split('. ')[0] ?? 'bad arguments';
  const missing = /^Option '(-[^' ]+)(?:, -[^' ]+)?(?: <value>)?' argument (?:missing|is ambiguous)/.exec(firstLine);
  if (missing) return `${missing[1]} needs a value`;
  return firstLine.replace(/^Unknown option/, 'unknown option').replace(/^Unexpected argument/, 'unexpected argument');
}

export function parse<const T extends ParseArgsOptionsConfig>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: joinDashValues(args, options), options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError(describeParseError(error as Error));
  }
}

/** Any message on one line: line breaks and other control characters are shown escaped. */
export function oneLine(message: string): string {
  return message.replace(/[\p{Cc}\u2028\u2029\u0085]/gu, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
