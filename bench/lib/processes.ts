import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
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

/**
 * RSS after `idleMs` (default 30 s) of idleness. V8 keeps the young generation that start-up grew
 * (some 30 MB of new space right after start) until its memory reducer sees the process idle, about
 * fifteen seconds later on this machine (127 MB flat for 15 s, then 95 MB): a reading 1 s after start
 * measures start-up, this one an idle server.
 */
export async function settledRssMb(pids: number[], { idleMs = 30_000 } = {}): Promise<number[]> {
  await new Promise((resolve) => setTimeout(resolve, idleMs));
  return pids.map(rssMb);
}

/** The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1], utime [11], stime [12]); [] once gone. */
function statFields(pid: number | string): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return [];
  }
}

/** utime + stime of a process in clock ticks (1/100 s on Linux). */
export function cpuTicks(pid: number): number {
  const fields = statFields(pid);
  return fields.length ? Number(fields[11]) + Number(fields[12]) : 0;
}

/** The processes whose parent is `pid` (a WORKERS primary's workers), from the ppid in /proc/<pid>/stat. */
export function childPids(pid: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && Number(statFields(name)[1]) === pid)
    .map(Number);
}

/**
 * Runs a bench script to completion in its own process (through tsx) and parses the JSON object its
 * last stdout line prints: for measurements that must not share this process (its CPU, its modules).
 */
export function runJsonScript<T>(script: string, args: string[], env: Record<string, string> = {}): Promise<T> {
  return new Promise((resolveResult, reject) => {
    const childEnv = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/tmp', ...env };
    execFile(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, env: childEnv, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`${script} failed: ${error.message}\n${stderr.slice(-4000)}`));
      const last = stdout.trim().split('\n').at(-1) ?? '';
      try {
        resolveResult(JSON.parse(last) as T);
      } catch {
        reject(new Error(`${script} printed no JSON line:\n${stdout.slice(-2000)}\n${stderr.slice(-2000)}`));
      }
    });
  });
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
