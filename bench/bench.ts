import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBareProvider } from './lib/bare.ts';
import { formatCeiling, runCeiling, type CeilingResults } from './lib/ceiling.ts';
import { formatDatabases, runDatabaseScenarios, type DatabaseResults } from './lib/databases.ts';
import { runLoad, sleep } from './lib/load.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { formSignIn, discoverServer } from './lib/oidc.ts';
import { DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { ROOT, rssMb, settledRssMb } from './lib/processes.ts';
import {
  alternate,
  measured,
  measureSignIns,
  People,
  SignInDriver,
  throughput,
  tokenOp,
  TOKEN_SCENARIOS,
  type BenchOptions,
  type Operations,
  type SignInFigures,
  type Throughput,
  type TokenScenario,
} from './lib/scenarios.ts';
import { countRows, databaseBytes, seedRefreshTokens, seedUsers } from './lib/seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess, type SesameInstance } from './lib/sesame.ts';
import { round } from './lib/stats.ts';
import { formatWorkers, runWorkersScenario, type WorkersResults } from './lib/workers.ts';

export { TOKEN_SCENARIOS, type BenchOptions, type Operations } from './lib/scenarios.ts';

export const DEFAULTS: Omit<BenchOptions, 'log'> = {
  concurrency: 32,
  duration: 10,
  warmup: 2,
  settle: 20,
  memorySignIns: 10_000,
  storedRefreshTokens: 100_000,
  baseUsers: 1_000,
  growthUsers: 1_000_000,
  workers: [1, 2],
  quick: false,
};

export const QUICK: Omit<BenchOptions, 'log'> = {
  concurrency: 4,
  duration: 1,
  warmup: 0.3,
  settle: 0.3,
  memorySignIns: 30,
  storedRefreshTokens: 1_000,
  baseUsers: 100,
  growthUsers: 2_000,
  workers: [1, 2],
  quick: true,
};

/** Counts for `npm run bench -- --sign-ins N --requests N` where one is not given. */
export const COUNTED: Operations = { signIns: 3, tokens: 5, deadlineSeconds: 120 };

export interface BenchResults {
  meta: {
    startedAt: string;
    node: string;
    cpus: number;
    concurrency: number;
    duration: number;
    /** Set when the run counted operations instead of timing them. */
    operations?: Operations;
    warmup: number;
    /** Seconds of settling before the first Sesame-vs-bare slice (see BenchOptions.settle). */
    settle: number;
    quick: boolean;
    seconds: number;
  };
  startup: {
    firstStartReadyMs: number;
    readyMs: number;
    readyMsWithGrowthUsers: number;
    /** The same restart in development mode (`npm start`: TypeScript compiled by tsx at start). */
    dev: { readyMs: number; idleRssMb: number };
  };
  signIn: SignInFigures;
  /** Sesame's email-code sign-in vs bare oidc-provider's one-form sign-in, the mail's CPU, SQL statements. */
  ceiling: CeilingResults;
  /** Sign-ins with each WORKERS setting on SQLite. */
  workers: WorkersResults;
  tokens: Record<TokenScenario, { sesame: Throughput; bare: Throughput; ratio: number }>;
  /** Sign-ins and token scenarios on SQLite and PostgreSQL (1 instance, and 1 and 2 behind a proxy), or why skipped. */
  databases: DatabaseResults;
  memory: {
    /** 1 s after ready: start-up's young generation still committed. */
    idleRssMb: number;
    /** After 30 s idle, once V8 has shrunk it (settledRssMb); what the target is checked against. */
    settledIdleRssMb: number;
    bareIdleRssMb: number;
    afterSignInsRssMb: number;
    signIns: number;
    afterRefreshTokensRssMb: number;
    storedRefreshTokens: number;
  };
  growth: {
    small: { users: number; p95: number; p50: number; perSecond: number };
    large: { users: number; p95: number; p50: number; perSecond: number; seedSeconds: number };
    p95Ratio: number;
    dbBytesPerUser: number;
  };
  targets: Array<{ name: string; target: string; actual: string; met: boolean }>;
}

export async function runBench(options: BenchOptions): Promise<BenchResults> {
  const began = performance.now();
  const log = options.log;
  const work = mkdtempSync(join(tmpdir(), 'sesame-bench-'));
  const sink = await startMailSink();
  const running: Array<{ stop(): Promise<void> }> = [];
  try {
    // --- Start-up: first start (creates schema and keys), then a restart on the same database.
    const dirA = join(work, 'main');
    mkdirSync(dirA);
    log('starting Sesame (first start: migrations and key generation)');
    let sesame: SesameInstance = await startSesameProcess({ dir: dirA, smtpPort: sink.port });
    const firstStartReadyMs = sesame.child.readyMs;
    const client = await registerBenchApp(sesame.databaseUrl);
    await sesame.child.stop();
    const fromSource = await startSesameProcess({ dir: dirA, smtpPort: sink.port, port: sesame.port, dev: true });
    await sleep(1000);
    const dev = { readyMs: fromSource.child.readyMs, idleRssMb: rssMb(fromSource.child.pid) };
    await fromSource.child.stop();
    log(`from source through tsx (npm start): ready in ${dev.readyMs} ms, idle RSS ${dev.idleRssMb} MB`);
    const nodeArgs = options.profileDir ? ['--cpu-prof', '--cpu-prof-dir', options.profileDir] : [];
    sesame = await startSesameProcess({ dir: dirA, smtpPort: sink.port, port: sesame.port, nodeArgs });
    running.push(sesame.child);
    const readyMs = sesame.child.readyMs;
    await sleep(1000);
    const idleRssMb = rssMb(sesame.child.pid);
    // --quick (the smoke test) only shows the reading exists: it does not wait for V8.
    const [settledIdleRssMb = idleRssMb] = await settledRssMb([sesame.child.pid], { idleMs: options.quick ? 1000 : 30_000 });
    log(`ready in ${firstStartReadyMs} ms (first start), ${readyMs} ms (restart); idle RSS ${idleRssMb} MB 1 s after ready, ${settledIdleRssMb} MB settled`);

    // --- Scenario 1: complete email-code sign-ins.
    seedUsers(sesame.databaseFile, 0, options.baseUsers);
    const server = await discoverServer(sesame.issuer, { ...client, redirectUri: REDIRECT_URI });
    const driver = new SignInDriver(server, sink, new People(options.baseUsers));
    const signIn = await measureSignIns(driver, options, sesame.child.pid, 'sign-ins');
    log(`  ${signIn.perSecond} sign-ins/s, p95 ${signIn.flow.p95} ms, slowest step ${signIn.slowestStep.name} (p95 ${signIn.slowestStep.p95} ms), ${signIn.errors} errors`);
    if (signIn.signIns === 0) throw new Error(`no sign-in completed: ${signIn.firstError ?? 'unknown error'}\n${sesame.child.output()}`);

    // --- Scenario 2: token endpoints, Sesame and bare oidc-provider back to back.
    const bareChild = await startBareProvider(work, sesame.databaseFile, client);
    running.push(bareChild);
    await sleep(500);
    const bareIdleRssMb = rssMb(bareChild.pid);
    const bare = await discoverServer(`${bareChild.url}/oidc`, { ...client, redirectUri: REDIRECT_URI });
    // The same bare provider with its models in SQLite: what durable storage alone costs it.
    const bareOnSqliteChild = await startBareProvider(work, sesame.databaseFile, client, { env: { BARE_DATABASE: join(work, 'bare.db') } });
    running.push(bareOnSqliteChild);
    const bareOnSqlite = await discoverServer(`${bareOnSqliteChild.url}/oidc`, { ...client, redirectUri: REDIRECT_URI });
    const ceiling = await runCeiling(
      options,
      sink,
      { driver, pid: sesame.child.pid },
      { server: bare, pid: bareChild.pid },
      { server: bareOnSqlite, pid: bareOnSqliteChild.pid },
    );
    await bareOnSqliteChild.stop();
    const bareChains = await Promise.all(Array.from({ length: options.concurrency }, () => formSignIn(bare)));
    const sesameChains = await driver.tokenChains(options.concurrency);

    // Each scenario in A-B-B-A slices (see alternate), half the duration (or the counted requests) per slice.
    const tokens = {} as BenchResults['tokens'];
    const targetsOf = [
      { name: 'Sesame', server, chains: sesameChains, pid: sesame.child.pid },
      { name: 'bare oidc-provider', server: bare, chains: bareChains, pid: bareChild.pid },
    ];
    for (const scenario of TOKEN_SCENARIOS) {
      const [s, b] = await alternate(targetsOf, (target, warmup) =>
        runLoad({
          name: `${scenario} on ${target.name}`,
          concurrency: options.concurrency,
          ...measured(options, 'tokens', options.duration / 2),
          warmupSeconds: warmup ? Math.max(options.warmup, options.settle / 4) : 0,
          op: tokenOp(target.server, scenario, target.chains),
          serverPid: target.pid,
        }),
      );
      const ofSesame = throughput(s!);
      const ofBare = throughput(b!);
      tokens[scenario] = { sesame: ofSesame, bare: ofBare, ratio: round(ofBare.perSecond ? ofSesame.perSecond / ofBare.perSecond : 0, 2) };
      log(`  ${scenario}: Sesame ${ofSesame.perSecond}/s, bare ${ofBare.perSecond}/s, ratio ${tokens[scenario].ratio}`);
    }

    // --- Scenario 2b: the same on PostgreSQL, one instance and two, against this SQLite instance.
    const databases = await runDatabaseScenarios(options, sink, { server, driver, pid: sesame.child.pid }, postgresAdminUrl(options));

    // --- Scenario 2c: sign-ins with each WORKERS setting, on databases of their own.
    const workers = await runWorkersScenario(options, sink, work, options.workers);

    // --- Scenario 3: memory after many sign-ins and many stored refresh tokens.
    const more = options.memorySignIns - driver.completed;
    if (more > 0) {
      log(`sign-ins up to ${options.memorySignIns} for the memory reading (${more} more)`);
      // Timed runs stop at the count or after an hour; counted runs must get there within their deadline.
      const upTo = options.operations ? { seconds: options.operations.deadlineSeconds, operations: more } : { seconds: 3600, maxOps: more };
      await runLoad({ name: 'sign-ins for the memory reading', concurrency: options.concurrency, ...upTo, warmupSeconds: 0, op: driver.op });
    }
    await sleep(1000);
    const afterSignInsRssMb = rssMb(sesame.child.pid);
    const signInsDone = driver.completed;
    const stored = seedRefreshTokens(sesame.databaseFile, options.storedRefreshTokens);
    // Touch the store: a short burst of refresh grants and userinfo reads among the stored rows.
    await runLoad({
      name: 'refresh among stored refresh tokens',
      concurrency: options.concurrency,
      ...measured(options, 'tokens', Math.min(2, options.duration)),
      warmupSeconds: 0,
      op: tokenOp(server, 'refresh', sesameChains),
    });
    await sleep(1000);
    const afterRefreshTokensRssMb = rssMb(sesame.child.pid);
    const storedRefreshTokens = countRows(sesame.databaseFile, "SELECT COUNT(*) AS n FROM oidc_model_instances WHERE model = 'RefreshToken'");
    log(`RSS ${afterSignInsRssMb} MB after ${signInsDone} sign-ins, ${afterRefreshTokensRssMb} MB with ${storedRefreshTokens} stored refresh tokens (${stored.seeded} seeded)`);
    await bareChild.stop();
    await sesame.child.stop();
    running.length = 0;

    // --- Scenario 4: growth, on its own database: p95 with few users, then with many.
    const dirB = join(work, 'growth');
    mkdirSync(dirB);
    let growthSesame = await startSesameProcess({ dir: dirB, smtpPort: sink.port });
    running.push(growthSesame.child);
    const growthClient = await registerBenchApp(growthSesame.databaseUrl);
    seedUsers(growthSesame.databaseFile, 0, options.baseUsers);
    const growthServer = await discoverServer(growthSesame.issuer, { ...growthClient, redirectUri: REDIRECT_URI });
    const small = await measureSignIns(new SignInDriver(growthServer, sink, new People(options.baseUsers)), options, growthSesame.child.pid, `growth: ${options.baseUsers} users`);
    await growthSesame.child.stop();
    running.length = 0;
    const bytesBefore = databaseBytes(growthSesame.databaseFile);
    log(`seeding ${options.growthUsers - options.baseUsers} more users`);
    const seedSeconds = seedUsers(growthSesame.databaseFile, options.baseUsers, options.growthUsers);
    const bytesAfter = databaseBytes(growthSesame.databaseFile);
    const dbBytesPerUser = Math.round((bytesAfter - bytesBefore) / (options.growthUsers - options.baseUsers));
    log(`  seeded in ${round(seedSeconds)} s; ${dbBytesPerUser} database bytes per user`);
    growthSesame = await startSesameProcess({ dir: dirB, smtpPort: sink.port, port: growthSesame.port });
    running.push(growthSesame.child);
    const readyMsWithGrowthUsers = growthSesame.child.readyMs;
    const large = await measureSignIns(new SignInDriver(growthServer, sink, new People(options.growthUsers)), options, growthSesame.child.pid, `growth: ${options.growthUsers} users`);
    await growthSesame.child.stop();
    running.length = 0;

    const growth = {
      small: { users: options.baseUsers, p95: small.flow.p95, p50: small.flow.p50, perSecond: small.perSecond },
      large: { users: options.growthUsers, p95: large.flow.p95, p50: large.flow.p50, perSecond: large.perSecond, seedSeconds: round(seedSeconds) },
      p95Ratio: round(small.flow.p95 ? large.flow.p95 / small.flow.p95 : 0, 2),
      dbBytesPerUser,
    };
    const results: BenchResults = {
      meta: {
        startedAt: new Date(Date.now() - (performance.now() - began)).toISOString(),
        node: process.version,
        cpus: (await import('node:os')).availableParallelism(),
        concurrency: options.concurrency,
        duration: options.duration,
        operations: options.operations,
        warmup: options.warmup,
        settle: options.settle,
        quick: options.quick,
        seconds: round((performance.now() - began) / 1000),
      },
      startup: { firstStartReadyMs, readyMs, readyMsWithGrowthUsers, dev },
      signIn,
      ceiling,
      workers,
      tokens,
      databases,
      memory: { idleRssMb, settledIdleRssMb, bareIdleRssMb, afterSignInsRssMb, signIns: signInsDone, afterRefreshTokensRssMb, storedRefreshTokens },
      growth,
      targets: [],
    };
    results.targets = targets(results);
    return results;
  } finally {
    for (const child of running) await child.stop().catch(() => undefined);
    await sink.close();
    rmSync(work, { recursive: true, force: true });
  }
}

function targets(r: BenchResults): BenchResults['targets'] {
  const pct = (value: number) => `${Math.round(value * 100)}%`;
  return [
    {
      name: `sign-ins/s, best WORKERS (${r.workers.best.workers})`,
      target: '>= 200',
      actual: String(r.workers.best.perSecond),
      met: r.workers.best.perSecond >= 200,
    },
    {
      name: 'CPU/sign-in vs bare + mail',
      target: `<= 1.5 x ${r.ceiling.bare.cpuMsPerSignIn} + ${r.ceiling.mail.renderAndSendMs} = ${r.ceiling.cpuBudgetMs} ms`,
      actual: `${r.ceiling.sesame.cpuMsPerSignIn} ms`,
      met: r.ceiling.sesame.cpuMsPerSignIn <= r.ceiling.cpuBudgetMs,
    },
    // The token endpoints (discovery and JWKS are documents, not tokens).
    ...(['refresh', 'userinfo', 'introspection'] as const).map((scenario) => ({
      name: `${scenario} vs bare`,
      target: '>= 75%',
      actual: pct(r.tokens[scenario].ratio),
      met: r.tokens[scenario].ratio >= 0.75,
    })),
    { name: 'idle RSS (settled)', target: '<= 120 MB', actual: `${r.memory.settledIdleRssMb} MB`, met: r.memory.settledIdleRssMb <= 120 },
    { name: 'ready', target: '< 1500 ms', actual: `${r.startup.readyMs} ms`, met: r.startup.readyMs < 1500 },
    {
      name: `p95 at ${r.growth.large.users} vs ${r.growth.small.users} users`,
      target: '<= 120%',
      actual: pct(r.growth.p95Ratio),
      met: r.growth.p95Ratio <= 1.2,
    },
    ...('skipped' in r.databases
      ? []
      : [
          {
            name: 'PostgreSQL vs SQLite sign-ins',
            target: '>= 70%',
            actual: pct(r.databases.ratios.signIn.postgresVsSqlite),
            met: r.databases.ratios.signIn.postgresVsSqlite >= 0.7,
          },
        ]),
  ];
}

/** The admin URL for the PostgreSQL scenarios, or false when turned off. */
function postgresAdminUrl(options: BenchOptions): string | false {
  return options.postgres ?? (process.env.BENCH_DATABASE_URL?.trim() || DEFAULT_BENCH_DATABASE_URL);
}

export function formatTable(r: BenchResults): string {
  const lines: string[] = [];
  const row = (...cells: Array<string | number>) => lines.push(cells.map((cell, i) => String(cell).padEnd(i === 0 ? 26 : 12)).join(' ').trimEnd());
  const span = r.meta.operations
    ? `${r.meta.operations.signIns} sign-ins per sign-in reading, ${r.meta.operations.tokens} requests per token slice`
    : `${r.meta.duration} s per scenario`;
  lines.push(`Sesame bench: ${r.meta.cpus} CPUs, Node ${r.meta.node}, concurrency ${r.meta.concurrency}, ${span}${r.meta.quick ? ' (quick)' : ''}`);
  lines.push('');
  row('email-code sign-ins', 'per s', 'p50 ms', 'p95 ms', 'p99 ms', 'CPU srv/cli');
  row('  whole flow', r.signIn.perSecond, r.signIn.flow.p50, r.signIn.flow.p95, r.signIn.flow.p99, `${r.signIn.serverCpu ?? '-'}/${r.signIn.clientCpu}%`);
  for (const [step, s] of Object.entries(r.signIn.steps)) row(`  ${step}${step === r.signIn.slowestStep.name ? ' (slowest)' : ''}`, '', s.p50, s.p95, s.p99);
  lines.push(`  ${r.signIn.signIns} sign-ins (${r.signIn.newUsers} new, ${r.signIn.returningUsers} returning), ${r.signIn.errors} errors`);
  lines.push('');
  lines.push(...formatCeiling(r.ceiling));
  lines.push('');
  lines.push(...formatWorkers(r.workers));
  lines.push('');
  row('tokens (per s)', 'Sesame', 'bare', 'ratio', 'Sesame p95', 'bare p95', 'CPU S/b');
  for (const [name, t] of Object.entries(r.tokens)) {
    row(`  ${name}`, t.sesame.perSecond, t.bare.perSecond, t.ratio, t.sesame.p95, t.bare.p95, `${t.sesame.serverCpu ?? '-'}/${t.bare.serverCpu ?? '-'}%`);
  }
  lines.push('');
  lines.push(...formatDatabases(r.databases));
  lines.push('');
  row('memory and start-up', 'value');
  row('  idle RSS, settled', `${r.memory.settledIdleRssMb} MB`, `(1 s after ready: ${r.memory.idleRssMb} MB; bare provider 1 s after ready: ${r.memory.bareIdleRssMb} MB)`);
  row(`  RSS after sign-ins`, `${r.memory.afterSignInsRssMb} MB`, `(${r.memory.signIns} sign-ins)`);
  row(`  RSS with refresh tokens`, `${r.memory.afterRefreshTokensRssMb} MB`, `(${r.memory.storedRefreshTokens} stored)`);
  row('  ready, first start', `${r.startup.firstStartReadyMs} ms`);
  row('  ready, restart', `${r.startup.readyMs} ms`);
  row(`  ready, ${r.growth.large.users} users`, `${r.startup.readyMsWithGrowthUsers} ms`);
  if (r.startup.dev) {
    row('  from source (tsx, npm start): ready', `${r.startup.dev.readyMs} ms`, `idle RSS ${r.startup.dev.idleRssMb} MB`);
  }
  lines.push('');
  row('growth', 'users', 'sign-ins/s', 'p50 ms', 'p95 ms');
  row('  small', r.growth.small.users, r.growth.small.perSecond, r.growth.small.p50, r.growth.small.p95);
  row('  large', r.growth.large.users, r.growth.large.perSecond, r.growth.large.p50, r.growth.large.p95);
  lines.push(`  p95 ratio ${r.growth.p95Ratio}; ${r.growth.dbBytesPerUser} database bytes per user; seeding took ${r.growth.large.seedSeconds} s`);
  lines.push('');
  lines.push(`${'targets'.padEnd(36)} ${'target'.padEnd(34)} ${'actual'.padEnd(12)} met`);
  for (const t of r.targets) lines.push(`  ${t.name.padEnd(34)} ${t.target.padEnd(34)} ${t.actual.padEnd(12)} ${t.met ? 'yes' : 'NO'}`);
  return lines.join('\n');
}

export const RESULTS_DIR = join(ROOT, 'bench', 'results');
