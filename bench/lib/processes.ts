import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Child {
  process: ChildProcess;
  pid: number;
  url: string;
  /** Milliseconds from spawn to the first successful readiness probe. */
  readyMs: number;
  output(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

/** Resident set size of a process in MB, from /proc (Linux). */
export function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round((kb / 1024) * 10) / 10;
}

/** utime + stime of a process in clock ticks (1/100 s on Linux). */
export function cpuTicks(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/**
 * Spawns `node [nodeArgs] [--import tsx] <script>` and polls `probe` until it answers 2xx. The clock
 * starts before spawn, so the time includes Node's own start-up and TypeScript loading.
 */
export async function startChild(options: {
  script: string;
  env: Record<string, string>;
  port: number;
  probePath: string;
  nodeArgs?: string[];
  /** Load TypeScript through tsx (default); false for plain JavaScript such as a bundle. */
  tsx?: boolean;
  timeoutMs?: number;
  /** Working directory (default: the project root). */
  cwd?: string;
  /** How much of the latest stdout/stderr output() keeps (default 8000 characters). */
  keepOutputChars?: number;
}): Promise<Child> {
  const url = `http://127.0.0.1:${options.port}`;
  const started = performance.now();
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), ...(options.tsx === false ? [] : ['--import', 'tsx']), options.script], {
    cwd: options.cwd ?? ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-(options.keepOutputChars ?? 8000));
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolveExit) =>
    child.once('exit', (code) => {
      exited = code;
      resolveExit();
    }),
  );

  const deadline = started + (options.timeoutMs ?? 30_000);
  let readyMs = 0;
  for (;;) {
    if (exited !== undefined) throw new Error(`${options.script} exited with ${exited} before it was ready:\n${output}`);
    try {
      const response = await fetch(`${url}${options.probePath}`);
      await response.arrayBuffer();
      if (response.ok) {
        readyMs = performance.now() - started;
        break;
      }
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${options.script} was not ready within ${options.timeoutMs ?? 30_000} ms:\n${output}`);
    }
    await new Promise((wait) => setTimeout(wait, 5));
  }

  return {
    process: child,
    pid: child.pid!,
    url,
    readyMs: Math.round(readyMs),
    output: () => output,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
