import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { basicAuth, postForm, send } from './lib/http.ts';
import { runLoad, sleep, type LoadResult } from './lib/load.ts';
import { startMailSink, type MailSink } from './lib/mail-sink.ts';
import { automaticSignIn, discoverServer, emailSignIn, SIGN_IN_STEPS, type Server, type SignInStep, type Tokens } from './lib/oidc.ts';
import { freePort, ROOT, rssMb, startChild, type Child } from './lib/processes.ts';
import { countRows, databaseBytes, seedRefreshTokens, seededEmail, seedUsers, signingJwks } from './lib/seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess, type SesameInstance } from './lib/sesame.ts';
import { round, summarize, type Summary } from './lib/stats.ts';

export interface BenchOptions {
  concurrency: number;
  /** Measured seconds per scenario (each token scenario: half on Sesame, half on bare oidc-provider). */
  duration: number;
  /**
   * Count operations instead of timing them: each sign-in measurement stops after `signIns` completed sign-ins,
   * each token slice after `tokens` requests, and a measurement that has not got there within `deadlineSeconds`
   * fails, naming its scenario. `duration` is then unused. For a smoke run on a busy machine, where a timed
   * window can close before the first sign-in does.
   */
  operations?: Operations;
  warmup: number;
  /** Sign-ins completed before the "after sign-ins" RSS reading. */
  memorySignIns: number;
  /** Stored refresh tokens before the "after refresh tokens" RSS reading. */
  storedRefreshTokens: number;
  baseUsers: number;
  growthUsers: number;
  quick: boolean;
  /** Write a V8 CPU profile of the main Sesame process into this directory. */
  profileDir?: string;
  log: (line: string) => void;
}

export const DEFAULTS: Omit<BenchOptions, 'log'> = {
  concurrency: 32,
  duration: 10,
  warmup: 2,
  memorySignIns: 10_000,
  storedRefreshTokens: 100_000,
  baseUsers: 1_000,
  growthUsers: 1_000_000,
  quick: false,
};

export const QUICK: Omit<BenchOptions, 'log'> = {
  concurrency: 4,
  duration: 1,
  warmup: 0.3,
  memorySignIns: 30,
  storedRefreshTokens: 1_000,
  baseUsers: 100,
  growthUsers: 2_000,
  quick: true,
};

export interface Operations {
  /** Sign-ins per sign-in measurement (the sign-in scenario and each growth reading). */
  signIns: number;
  /** Requests per token slice (each token scenario runs four: Sesame, bare, bare, Sesame). */
  tokens: number;
  /** The most one measurement may take. */
  deadlineSeconds: number;
}

/** Counts for `npm run bench -- --sign-ins N --requests N` where one is not given. */
export const COUNTED: Operations = { signIns: 3, tokens: 5, deadlineSeconds: 120 };

/** The measuring part of `runLoad`'s options: `seconds` timed, or a count of operations with its deadline. */
function measured(options: BenchOptions, kind: 'signIns' | 'tokens', seconds: number): { seconds: number; operations?: number } {
  return options.operations ? { seconds: options.operations.deadlineSeconds, operations: options.operations[kind] } : { seconds };
}

export const TOKEN_SCENARIOS = ['refresh', 'userinfo', 'introspection', 'discovery', 'jwks'] as const;
type TokenScenario = (typeof TOKEN_SCENARIOS)[number];

export interface Throughput {
  perSecond: number;
  errors: number;
  p50: number;
  p95: number;
  p99: number;
  serverCpu?: number;
  clientCpu: number;
}

export interface SignInFigures extends Throughput {
  signIns: number;
  newUsers: number;
  returningUsers: number;
  flow: Summary;
  steps: Record<SignInStep, Summary>;
  slowestStep: { name: SignInStep; p50: number; p95: number; p99: number };
  firstError?: string;
}

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
  tokens: Record<TokenScenario, { sesame: Throughput; bare: Throughput; ratio: number }>;
  memory: {
    idleRssMb: number;
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

const throughput = (result: LoadResult): Throughput => {
  const latency = summarize(result.latencies);
  return {
    perSecond: round(result.perSecond),
    errors: result.errors,
    p50: latency.p50,
    p95: latency.p95,
    p99: latency.p99,
    serverCpu: result.serverCpu,
    clientCpu: result.clientCpu,
  };
};

function pool(a: LoadResult, b: LoadResult): LoadResult {
  const seconds = a.seconds + b.seconds;
  const ops = a.ops + b.ops;
  const cpu = (x: LoadResult) => (x.serverCpu ?? 0) * x.seconds;
  return {
    ops,
    errors: a.errors + b.errors,
    firstError: a.firstError ?? b.firstError,
    seconds,
    perSecond: ops / seconds,
    latencies: a.latencies.concat(b.latencies),
    serverCpu: a.serverCpu === undefined ? undefined : Math.round((cpu(a) + cpu(b)) / seconds),
    clientCpu: Math.round((a.clientCpu * a.seconds + b.clientCpu * b.seconds) / seconds),
  };
}

/**
 * Who signs in next: every other sign-in is a new address (sign-up), the rest are existing accounts
 * picked at random among the seeded ones and those signed up during the run. An address is never in
 * two flows at once and is used at most 4 times, under Sesame's 5-codes-per-15-minutes cap.
 */
class People {
  private counter = 0;
  private readonly signedUp: string[] = [];
  private readonly uses = new Map<string, number>();
  private readonly busy = new Set<string>();
  private readonly run = Math.random().toString(36).slice(2, 8);

  constructor(private readonly seeded: number) {}

  take(): { email: string; isNew: boolean } {
    this.counter += 1;
    if (this.counter % 2 === 0) {
      const total = this.seeded + this.signedUp.length;
      for (let attempt = 0; attempt < 20 && total > 0; attempt += 1) {
        const index = Math.floor(Math.random() * total);
        const email = index < this.seeded ? seededEmail(index) : this.signedUp[index - this.seeded]!;
        // One load generator is one IP: an address gets 3 codes per 15 min from it (the pair cap).
        if (this.busy.has(email) || (this.uses.get(email) ?? 0) >= 3) continue;
        this.busy.add(email);
        this.uses.set(email, (this.uses.get(email) ?? 0) + 1);
        return { email, isNew: false };
      }
    }
    const email = `new-${this.run}-${this.counter}@example.com`;
    this.busy.add(email);
    this.uses.set(email, 1);
    return { email, isNew: true };
  }

  done(email: string, isNew: boolean, ok: boolean): void {
    this.busy.delete(email);
    if (isNew && ok) this.signedUp.push(email);
  }
}

const noSteps = () => Object.fromEntries(SIGN_IN_STEPS.map((step) => [step, [] as number[]])) as Record<SignInStep, number[]>;

class SignInDriver {
  /** Step timings of the sign-ins the measurement counted (see `count`). */
  readonly steps = noSteps();
  newUsers = 0;
  returningUsers = 0;
  completed = 0;
  /** The newest token sets, for the token scenarios. */
  readonly recentTokens: Tokens[] = [];

  constructor(
    private readonly server: Server,
    private readonly sink: MailSink,
    private readonly people: People,
  ) {}

  reset(): void {
    for (const step of SIGN_IN_STEPS) this.steps[step].length = 0;
    this.newUsers = 0;
    this.returningUsers = 0;
  }

  readonly op = async (): Promise<SignInSample> => {
    const { email, isNew } = this.people.take();
    const steps = noSteps();
    let ok = false;
    try {
      const tokens = await emailSignIn(this.server, this.sink, email, steps);
      ok = true;
      this.completed += 1;
      this.recentTokens.push(tokens);
      if (this.recentTokens.length > 512) this.recentTokens.splice(0, this.recentTokens.length - 512);
      return { isNew, steps };
    } finally {
      this.people.done(email, isNew, ok);
    }
  };

  /** Adds a sign-in the measurement counted: warm-up ones and those finishing after it ended stay out. */
  readonly count = (sample: SignInSample) => {
    for (const step of SIGN_IN_STEPS) this.steps[step].push(...sample.steps[step]);
    if (sample.isNew) this.newUsers += 1;
    else this.returningUsers += 1;
  };
}

interface SignInSample {
  isNew: boolean;
  steps: Record<SignInStep, number[]>;
}

async function measureSignIns(driver: SignInDriver, options: BenchOptions, pid: number, label: string): Promise<SignInFigures> {
  const span = options.operations ? `until ${options.operations.signIns} complete` : `for ${options.duration} s`;
  options.log(`${label}: ${options.concurrency} concurrent email-code sign-ins ${span}`);
  const result = await runLoad({
    name: label,
    concurrency: options.concurrency,
    ...measured(options, 'signIns', options.duration),
    warmupSeconds: options.warmup,
    op: driver.op,
    serverPid: pid,
    onMeasure: () => driver.reset(),
    onCounted: driver.count,
  });
  const steps = Object.fromEntries(SIGN_IN_STEPS.map((step) => [step, summarize(driver.steps[step])])) as Record<SignInStep, Summary>;
  const slowest = SIGN_IN_STEPS.reduce((worst, step) => (steps[step].p95 > steps[worst].p95 ? step : worst), SIGN_IN_STEPS[0]);
  const flow = summarize(result.latencies);
  return {
    ...throughput(result),
    signIns: result.ops,
    newUsers: driver.newUsers,
    returningUsers: driver.returningUsers,
    flow,
    steps,
    slowestStep: { name: slowest, p50: steps[slowest].p50, p95: steps[slowest].p95, p99: steps[slowest].p99 },
    firstError: result.firstError,
  };
}

/** Per-worker token state for the token scenarios: each worker owns one refresh-token chain. */
function tokenOp(server: Server, scenario: TokenScenario, chains: Tokens[]) {
  const auth = basicAuth(server.client.id, server.client.secret);
  const expectOk = (status: number, body: string, what: string) => {
    if (status !== 200) throw new Error(`${what} answered ${status}: ${body.slice(0, 200)}`);
  };
  return async (worker: number) => {
    const chain = chains[worker % chains.length]!;
    switch (scenario) {
      case 'refresh': {
        const reply = await postForm(server.endpoints.token, { grant_type: 'refresh_token', refresh_token: chain.refresh_token! }, { authorization: auth });
        expectOk(reply.status, reply.body, 'refresh_token grant');
        const tokens = JSON.parse(reply.body) as Tokens;
        if (!tokens.refresh_token || tokens.refresh_token === chain.refresh_token) throw new Error('refresh token was not rotated');
        chain.refresh_token = tokens.refresh_token;
        chain.access_token = tokens.access_token;
        return;
      }
      case 'userinfo': {
        const reply = await send(server.endpoints.userinfo, { headers: { authorization: `Bearer ${chain.access_token}` } });
        expectOk(reply.status, reply.body, 'userinfo');
        return;
      }
      case 'introspection': {
        const reply = await postForm(server.endpoints.introspection, { token: chain.access_token }, { authorization: auth });
        expectOk(reply.status, reply.body, 'introspection');
        if (!reply.body.includes('"active":true')) throw new Error(`token not active: ${reply.body.slice(0, 200)}`);
        return;
      }
      case 'discovery': {
        const reply = await send(server.endpoints.discovery);
        expectOk(reply.status, reply.body, 'discovery');
        return;
      }
      case 'jwks': {
        const reply = await send(server.endpoints.jwks);
        expectOk(reply.status, reply.body, 'jwks');
        return;
      }
    }
  };
}

async function startBare(jwksFile: string, client: { id: string; secret: string }): Promise<Child> {
  const port = await freePort();
  return startChild({
    script: 'bench/bare-provider.ts',
    port,
    probePath: '/health',
    env: { PORT: String(port), JWKS_FILE: jwksFile, CLIENT_ID: client.id, CLIENT_SECRET: client.secret, REDIRECT_URI, NODE_ENV: 'production' },
  });
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
    const client = await registerBenchApp(sesame.databaseFile);
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
    log(`ready in ${firstStartReadyMs} ms (first start), ${readyMs} ms (restart); idle RSS ${idleRssMb} MB`);

    // --- Scenario 1: complete email-code sign-ins.
    seedUsers(sesame.databaseFile, 0, options.baseUsers);
    const server = await discoverServer(sesame.issuer, { ...client, redirectUri: REDIRECT_URI });
    const driver = new SignInDriver(server, sink, new People(options.baseUsers));
    const signIn = await measureSignIns(driver, options, sesame.child.pid, 'sign-ins');
    log(`  ${signIn.perSecond} sign-ins/s, p95 ${signIn.flow.p95} ms, slowest step ${signIn.slowestStep.name} (p95 ${signIn.slowestStep.p95} ms), ${signIn.errors} errors`);
    if (signIn.signIns === 0) throw new Error(`no sign-in completed: ${signIn.firstError ?? 'unknown error'}\n${sesame.child.output()}`);

    // --- Scenario 2: token endpoints, Sesame and bare oidc-provider back to back.
    const jwksFile = join(work, 'jwks.json');
    writeFileSync(jwksFile, JSON.stringify(signingJwks(sesame.databaseFile)));
    const bareChild = await startBare(jwksFile, client);
    running.push(bareChild);
    await sleep(500);
    const bareIdleRssMb = rssMb(bareChild.pid);
    const bare = await discoverServer(`${bareChild.url}/oidc`, { ...client, redirectUri: REDIRECT_URI });
    const bareChains = await Promise.all(Array.from({ length: options.concurrency }, () => automaticSignIn(bare)));
    const sesameChains = driver.recentTokens.slice(-options.concurrency);
    while (sesameChains.length < options.concurrency) sesameChains.push(await emailSignIn(server, sink, `chain-${sesameChains.length}@example.com`, driver.steps));

    // Machine load drifts (other work shares these cores), so each scenario runs in A-B-B-A order,
    // half the duration (or the counted requests) per slice, and the two halves of each server are pooled.
    const tokens = {} as BenchResults['tokens'];
    for (const scenario of TOKEN_SCENARIOS) {
      const slice = async (name: string, target: Server, chains: Tokens[], pid: number, warmup: number) =>
        runLoad({
          name: `${scenario} on ${name}`,
          concurrency: options.concurrency,
          ...measured(options, 'tokens', options.duration / 2),
          warmupSeconds: warmup,
          op: tokenOp(target, scenario, chains),
          serverPid: pid,
        });
      const s1 = await slice('Sesame', server, sesameChains, sesame.child.pid, options.warmup);
      const b1 = await slice('bare oidc-provider', bare, bareChains, bareChild.pid, options.warmup);
      const b2 = await slice('bare oidc-provider', bare, bareChains, bareChild.pid, 0);
      const s2 = await slice('Sesame', server, sesameChains, sesame.child.pid, 0);
      const ofSesame = throughput(pool(s1, s2));
      const ofBare = throughput(pool(b1, b2));
      tokens[scenario] = { sesame: ofSesame, bare: ofBare, ratio: round(ofBare.perSecond ? ofSesame.perSecond / ofBare.perSecond : 0, 2) };
      log(`  ${scenario}: Sesame ${ofSesame.perSecond}/s, bare ${ofBare.perSecond}/s, ratio ${tokens[scenario].ratio}`);
    }

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
    const growthClient = await registerBenchApp(growthSesame.databaseFile);
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
        quick: options.quick,
        seconds: round((performance.now() - began) / 1000),
      },
      startup: { firstStartReadyMs, readyMs, readyMsWithGrowthUsers, dev },
      signIn,
      tokens,
      memory: { idleRssMb, bareIdleRssMb, afterSignInsRssMb, signIns: signInsDone, afterRefreshTokensRssMb, storedRefreshTokens },
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
    { name: 'sign-ins/s', target: '>= 200', actual: String(r.signIn.perSecond), met: r.signIn.perSecond >= 200 },
    { name: 'refresh vs bare', target: '>= 60%', actual: pct(r.tokens.refresh.ratio), met: r.tokens.refresh.ratio >= 0.6 },
    { name: 'userinfo vs bare', target: '>= 60%', actual: pct(r.tokens.userinfo.ratio), met: r.tokens.userinfo.ratio >= 0.6 },
    { name: 'idle RSS', target: '<= 120 MB', actual: `${r.memory.idleRssMb} MB`, met: r.memory.idleRssMb <= 120 },
    { name: 'ready', target: '< 1500 ms', actual: `${r.startup.readyMs} ms`, met: r.startup.readyMs < 1500 },
    {
      name: `p95 at ${r.growth.large.users} vs ${r.growth.small.users} users`,
      target: '<= 120%',
      actual: pct(r.growth.p95Ratio),
      met: r.growth.p95Ratio <= 1.2,
    },
  ];
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
  row('tokens (per s)', 'Sesame', 'bare', 'ratio', 'Sesame p95', 'bare p95', 'CPU S/b');
  for (const [name, t] of Object.entries(r.tokens)) {
    row(`  ${name}`, t.sesame.perSecond, t.bare.perSecond, t.ratio, t.sesame.p95, t.bare.p95, `${t.sesame.serverCpu ?? '-'}/${t.bare.serverCpu ?? '-'}%`);
  }
  lines.push('');
  row('memory and start-up', 'value');
  row('  idle RSS', `${r.memory.idleRssMb} MB`, `(bare provider: ${r.memory.bareIdleRssMb} MB)`);
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
  row('targets', 'target', 'actual', 'met');
  for (const t of r.targets) row(`  ${t.name}`, t.target, t.actual, t.met ? 'yes' : 'NO');
  return lines.join('\n');
}

export const RESULTS_DIR = join(ROOT, 'bench', 'results');
