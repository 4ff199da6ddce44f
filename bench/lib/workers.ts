/**
 * Sign-ins with WORKERS=N (node:cluster: a primary plus N workers on one port) on SQLite, for each N
 * asked for, in alternating slices. Each setting runs on a fresh database of its own, seeded alike.
 * The CPU counted is the primary's and all its workers' (the primary's children in /proc); the load
 * generator shares the same cores, so its CPU is reported too. Target: 200 sign-ins/s with the best N.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { send } from './http.ts';
import { runLoad, sleep, type LoadResult } from './load.ts';
import type { MailSink } from './mail-sink.ts';
import { discoverServer } from './oidc.ts';
import { childPids, settledRssMb } from './processes.ts';
import { alternate, measured, perOperation, People, SignInDriver, throughput, type BenchOptions, type Throughput } from './scenarios.ts';
import { seedUsers } from './seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess, type SesameInstance } from './sesame.ts';
import { round } from './stats.ts';

export interface WorkersSetting extends Throughput {
  workers: number;
  signIns: number;
  /** CPU of the primary and every worker per sign-in, ms. */
  cpuMsPerSignIn: number;
  /** CPU of the load generator (and the SMTP sink) per sign-in, ms: it shares the cores. */
  clientCpuMsPerSignIn: number;
  /** Idle RSS after start, MB: per worker (their mean), the primary's (none with WORKERS=1: one process serves), all together. */
  idleRssMb: { perWorker: number; primary?: number; total: number };
  firstError?: string;
}

export interface WorkersResults {
  settings: WorkersSetting[];
  /** The setting with the most sign-ins/s. */
  best: { workers: number; perSecond: number };
}

interface Setting {
  workers: number;
  instance: SesameInstance;
  pids: number[];
  driver: SignInDriver;
  idleRssMb: WorkersSetting['idleRssMb'];
}

export async function runWorkersScenario(options: BenchOptions, sink: MailSink, workDir: string, counts: readonly number[]): Promise<WorkersResults> {
  const settings: Setting[] = [];
  try {
    for (const workers of counts) settings.push(await startSetting(options, sink, workDir, workers));
    const span = options.operations ? `${options.operations.signIns} sign-ins` : `${options.duration / 2} s`;
    options.log(`WORKERS ${counts.join(' vs ')} on SQLite: ${options.concurrency} concurrent sign-ins, slices of ${span}`);
    const results = await alternate(settings, (setting, warmup) =>
      runLoad({
        name: `sign-ins with WORKERS=${setting.workers}`,
        concurrency: options.concurrency,
        ...measured(options, 'signIns', options.duration / 2),
        // Settled first, as the ceiling's servers are (BenchOptions.settle): the target is about a server
        // that has been up a while, and until V8 has compiled the hot paths its compiler threads add a
        // millisecond or two of CPU to every sign-in (each worker settles on its share of the traffic).
        warmupSeconds: warmup ? Math.max(options.warmup, options.settle) : 0,
        op: setting.driver.op,
        serverPid: setting.pids,
      }),
    );
    const figures = settings.map((setting, i) => settingFigures(setting, results[i]!));
    for (const f of figures) options.log(`  WORKERS=${f.workers}: ${f.perSecond}/s, ${f.cpuMsPerSignIn} ms CPU/sign-in (client ${f.clientCpuMsPerSignIn}), ${f.errors} errors`);
    const best = figures.reduce((a, b) => (b.perSecond > a.perSecond ? b : a));
    return { settings: figures, best: { workers: best.workers, perSecond: best.perSecond } };
  } finally {
    for (const setting of settings) await setting.instance.child.stop().catch(() => undefined);
  }
}

/** A Sesame with WORKERS=`workers` on a database of its own (app registered, users seeded), up with all its workers. */
async function startSetting(options: BenchOptions, sink: MailSink, workDir: string, workers: number): Promise<Setting> {
  const dir = join(workDir, `workers-${workers}`);
  mkdirSync(dir, { recursive: true });
  const databaseUrl = `sqlite:${join(dir, 'sesame.db')}`;
  const client = await registerBenchApp(databaseUrl);
  const instance = await startSesameProcess({ dir, smtpPort: sink.port, env: { WORKERS: String(workers) } });
  try {
    seedUsers(instance.databaseFile, 0, options.baseUsers);
    const pids = workers > 1 ? [instance.child.pid, ...(await workersUp(instance, workers))] : [instance.child.pid];
    const server = await discoverServer(instance.issuer, { ...client, redirectUri: REDIRECT_URI });
    // Idle: once V8 has shrunk what start-up grew (see settledRssMb).
    return { workers, instance, pids, driver: new SignInDriver(server, sink, new People(options.baseUsers)), idleRssMb: idleRss(await settledRssMb(pids, { idleMs: options.quick ? 1000 : 30_000 })) };
  } catch (error) {
    await instance.child.stop();
    throw error;
  }
}

/** Waits until /health counts every worker ready; their pids (the primary's children). */
async function workersUp(instance: SesameInstance, workers: number): Promise<number[]> {
  const deadline = performance.now() + 30_000;
  for (;;) {
    const health = JSON.parse((await send(`${instance.child.url}/health`)).body) as { workers?: { ready: number } };
    const pids = childPids(instance.child.pid);
    if (health.workers?.ready === workers && pids.length >= workers) return pids;
    if (performance.now() > deadline) throw new Error(`WORKERS=${workers}: not every worker was ready within 30 s:\n${instance.child.output()}`);
    await sleep(50);
  }
}

/** RSS of each pid; with one, that process serves; with more, the first is the primary and the rest are workers. */
function idleRss(rss: number[]): WorkersSetting['idleRssMb'] {
  const total = round(rss.reduce((sum, mb) => sum + mb, 0));
  if (rss.length === 1) return { perWorker: rss[0]!, total };
  const workers = rss.slice(1);
  return { perWorker: round(workers.reduce((sum, mb) => sum + mb, 0) / workers.length), primary: rss[0]!, total };
}

function settingFigures(setting: Setting, result: LoadResult): WorkersSetting {
  const perSignIn = (ms: number | undefined) => perOperation(result, ms) ?? 0;
  return {
    workers: setting.workers,
    ...throughput(result),
    signIns: result.ops,
    cpuMsPerSignIn: perSignIn(result.serverCpuMs),
    clientCpuMsPerSignIn: perSignIn(result.clientCpuMs),
    idleRssMb: setting.idleRssMb,
    firstError: result.firstError,
  };
}

/** The WORKERS part of the bench table. */
export function formatWorkers(r: WorkersResults): string[] {
  const lines: string[] = [];
  const row = (...cells: Array<string | number | undefined>) => lines.push(cells.map((cell, i) => String(cell ?? '-').padEnd(i === 0 ? 30 : 11)).join(' ').trimEnd());
  lines.push('WORKERS on SQLite (CPU: ms per sign-in, primary + workers; the load generator shares the cores)');
  row('  sign-ins', 'per s', 'p95 ms', 'server CPU', 'client CPU', 'RSS/worker', 'RSS primary', 'errors');
  for (const s of r.settings) {
    row(`    WORKERS=${s.workers}`, s.perSecond, s.p95, s.cpuMsPerSignIn, s.clientCpuMsPerSignIn, `${s.idleRssMb.perWorker} MB`, s.idleRssMb.primary === undefined ? '-' : `${s.idleRssMb.primary} MB`, s.errors);
  }
  lines.push(`    best: WORKERS=${r.best.workers}, ${r.best.perSecond} sign-ins/s`);
  return lines;
}
