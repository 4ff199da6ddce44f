// Building blocks shared by the bench's scenarios: options, the sign-in and token load, slices pooled per setup.
import { basicAuth, postForm, send } from './http.ts';
import { runLoad, type LoadResult } from './load.ts';
import type { MailSink } from './mail-sink.ts';
import { emailSignIn, SIGN_IN_STEPS, type Server, type SignInStep, type Tokens } from './oidc.ts';
import { seededEmail } from './seed.ts';
import { round, summarize, type Summary } from './stats.ts';

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
  /**
   * Seconds each server runs a flow before its first slice where Sesame is compared with bare
   * oidc-provider (the ceiling, the token scenarios) or the sign-ins/s target is read (each WORKERS
   * setting), instead of `warmup`: until V8 has compiled the
   * hot paths, its compiler threads add to a server's CPU. Bare oidc-provider is small and settles in
   * seconds; Sesame runs ten times more code and takes some thousand sign-ins. The targets are about
   * a server that has been up a while, so both are measured settled.
   */
  settle: number;
  /** Sign-ins completed before the "after sign-ins" RSS reading. */
  memorySignIns: number;
  /** Stored refresh tokens before the "after refresh tokens" RSS reading. */
  storedRefreshTokens: number;
  baseUsers: number;
  growthUsers: number;
  quick: boolean;
  /**
   * PostgreSQL for the database comparison: an admin URL the bench creates (and drops) its database
   * through; false skips it. Default: BENCH_DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres.
   */
  postgres?: string | false;
  /** The WORKERS settings whose sign-ins are compared on SQLite (e.g. [1, 2]). */
  workers: readonly number[];
  /** Write a V8 CPU profile of the main Sesame process into this directory. */
  profileDir?: string;
  log: (line: string) => void;
}

export interface Operations {
  /** Sign-ins per sign-in measurement (the sign-in scenario and each growth reading). */
  signIns: number;
  /** Requests per token slice (each token scenario runs four: Sesame, bare, bare, Sesame). */
  tokens: number;
  /** The most one measurement may take. */
  deadlineSeconds: number;
}


/** The measuring part of `runLoad`'s options: `seconds` timed, or a count of operations with its deadline. */
export function measured(options: BenchOptions, kind: 'signIns' | 'tokens', seconds: number): { seconds: number; operations?: number } {
  return options.operations ? { seconds: options.operations.deadlineSeconds, operations: options.operations[kind] } : { seconds };
}

export const TOKEN_SCENARIOS = ['refresh', 'userinfo', 'introspection', 'discovery', 'jwks'] as const;
export type TokenScenario = (typeof TOKEN_SCENARIOS)[number];

/** Whether `name` is one of TOKEN_SCENARIOS (for a scenario named on a tool's command line). */
export const isTokenScenario = (name: string): name is TokenScenario => (TOKEN_SCENARIOS as readonly string[]).includes(name);

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

export const throughput = (result: LoadResult): Throughput => {
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

/** Milliseconds (of CPU) per completed operation, to 0.01 ms; undefined when not measured or nothing completed. */
export const perOperation = (result: LoadResult, ms: number | undefined): number | undefined =>
  ms === undefined || result.ops === 0 ? undefined : round(ms / result.ops, 2);

/** Two slices of one setup as one measurement. */
export function pool(a: LoadResult, b: LoadResult): LoadResult {
  const seconds = a.seconds + b.seconds;
  const ops = a.ops + b.ops;
  const cpu = (x: LoadResult) => (x.serverCpu ?? 0) * x.seconds;
  const cpuMs = { ...a.cpuMs };
  for (const [name, ms] of Object.entries(b.cpuMs)) cpuMs[name] = (cpuMs[name] ?? 0) + ms;
  return {
    ops,
    errors: a.errors + b.errors,
    firstError: a.firstError ?? b.firstError,
    seconds,
    perSecond: ops / seconds,
    latencies: a.latencies.concat(b.latencies),
    serverCpu: a.serverCpu === undefined ? undefined : Math.round((cpu(a) + cpu(b)) / seconds),
    serverCpuMs: a.serverCpuMs === undefined ? undefined : a.serverCpuMs + (b.serverCpuMs ?? 0),
    cpuMs,
    clientCpu: Math.round((a.clientCpu * a.seconds + b.clientCpu * b.seconds) / seconds),
    clientCpuMs: a.clientCpuMs + b.clientCpuMs,
  };
}

/**
 * Machine load drifts (other work shares these cores), so setups compared with each other are measured
 * in slices, A-B-...-B-A: `slice` runs once per setup in order (with warm-up), then once more in reverse
 * order (without), and each setup's two slices are pooled.
 */
export async function alternate<T>(setups: readonly T[], slice: (setup: T, warmup: boolean) => Promise<LoadResult>): Promise<LoadResult[]> {
  const first: LoadResult[] = [];
  for (const setup of setups) first.push(await slice(setup, true));
  const second: LoadResult[] = [];
  for (const setup of [...setups].reverse()) second.unshift(await slice(setup, false));
  return first.map((result, i) => pool(result, second[i]!));
}

/**
 * Who signs in next: every other sign-in is a new address (sign-up), the rest are existing accounts
 * picked at random among the seeded ones and those signed up during the run. An address is never in
 * two flows at once and is used at most 4 times, under Sesame's 5-codes-per-15-minutes cap.
 */
export class People {
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
        // An address gets 3 codes per 15 min from one IP (the pair cap) and 5 in all (the address cap):
        // 3 uses stay under both, whichever of the browsers' addresses they come from.
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

export class SignInDriver {
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

  /** The newest `count` token sets, signing in more people first when there are fewer (one refresh chain per worker). */
  async tokenChains(count: number): Promise<Tokens[]> {
    while (this.recentTokens.length < count) await this.op();
    return this.recentTokens.slice(-count);
  }

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

export async function measureSignIns(driver: SignInDriver, options: BenchOptions, pid: number, label: string): Promise<SignInFigures> {
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
export function tokenOp(server: Server, scenario: TokenScenario, chains: Tokens[]) {
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

