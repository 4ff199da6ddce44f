import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A mistake in how the command was called: printed as one line, exit code 2, nothing written. */
export class UsageError extends Error {}

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export type Handler = (args: string[], ctx: { config: Readonly<Config>; db: () => Promise<Database>; io: Io }) => Promise<number>;

export function parse<const T extends ParseArgsOptionsConfig>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^Unknown option/, 'unknown option').split('. ')[0] ?? 'bad arguments');
  }
}

