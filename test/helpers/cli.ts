import { execFile } from 'node:child_process';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const ROOT = resolve(import.meta.dirname, '../..');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs bin/sesame.js as a user would, against the SQLite file `database`, or a DATABASE_URL (a started server's `databaseUrl`). */
export async function sesameCli(args: string[], options: { cwd: string; database: string; env?: Record<string, string> }): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(join(ROOT, 'bin/sesame.js'), args, {
      cwd: options.cwd,
      env: { ...process.env, DATABASE_URL: /^(sqlite:|postgres(ql)?:\/\/)/.test(options.database) ? options.database : `sqlite:${options.database}`, ...options.env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as CliResult;
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}
