/**
 * The sign-in and token scenarios on SQLite and on PostgreSQL, one instance and two behind a
 * round-robin proxy, all in one run and in alternating slices so machine-load drift hits every setup
 * alike. PostgreSQL gets a database of its own for the run, dropped at the end; when the server
 * cannot be used the scenarios are skipped with the reason, never failing the bench.
 */
import { runLoad, type LoadResult } from './load.ts';
import type { MailSink } from './mail-sink.ts';
import { discoverServer, type Server, type Tokens } from './oidc.ts';
import { createBenchDatabase, type BenchDatabase } from './postgres.ts';
import { freePort, startChild, type Child } from './processes.ts';
import { alternate, measured, People, perOperation, SignInDriver, throughput, tokenOp, type BenchOptions, type Throughput } from './scenarios.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess, type SesameInstance } from './sesame.ts';
import { round } from './stats.ts';

export const SETUPS = ['sqlite', 'postgres', 'postgresProxy', 'postgresTwo'] as const;
export type Setup = (typeof SETUPS)[number];

export const SETUP_LABELS: Record<Setup, string> = {
  sqlite: 'SQLite, 1 instance',
  postgres: 'PostgreSQL, 1 instance',
  postgresProxy: 'PostgreSQL, 1 behind proxy',
  postgresTwo: 'PostgreSQL, 2 behind proxy',
};

/** The token scenarios that touch the database on every request (discovery and JWKS do not). */
export const DATABASE_TOKEN_SCENARIOS = ['refresh', 'userinfo'] as const;
type DatabaseTokenScenario = (typeof DATABASE_TOKEN_SCENARIOS)[number];

export interface SetupSignIns extends Throughput {
  signIns: number;
  /** CPU of the Sesame process (both processes with two instances) per sign-in, ms. On SQLite this includes the database. */
  sesameCpuMs: number;
  /** CPU of the PostgreSQL server per sign-in, ms: this database's backends and the server's background processes. */
  postgresCpuMs?: number;
  /** CPU of the proxy process per sign-in, ms. */
  proxyCpuMs?: number;
  firstError?: string;
}

export type DatabaseResults =
  | { skipped: string }
  | {
      /** The database created for the run (dropped at its end). */
      database: string;
      /** How the PostgreSQL server was reached: `127.0.0.1:5432` (TCP) or `socket /var/run/postgresql`. */
      server: string;
      signIn: Record<Setup, SetupSignIns>;
      tokens: Record<DatabaseTokenScenario, Record<Setup, Throughput>>;
      ratios: {
        /** PostgreSQL 1 instance (direct) / SQLite, 2 instances / 1 instance (both behind the proxy), proxy / direct (1 instance). */
        signIn: Ratios;
        tokens: Record<DatabaseTokenScenario, Ratios>;
      };
    };

interface Ratios {
  postgresVsSqlite: number;
  twoVsOne: number;
  proxyVsDirect: number;
}

/** One setup under load: where its sign-ins go, and which processes' CPU counts for it. */
interface Target {
  setup: Setup;
  server: Server;
  driver: SignInDriver;
  sesamePids: number[];
  /** Extra CPU to read: the PostgreSQL server, the proxy. */
  cpuOf: Record<string, () => Promise<readonly number[]>>;
  /** Refresh-token chains for the token scenarios, one per worker. */
  chains?: Tokens[];
}

export interface SqliteSetup {
  server: Server;
  driver: SignInDriver;
  pid: number;
}

/**
 * Runs the comparison. `sqlite` is the bench's main Sesame (already running and signed into);
 * `adminUrl` is BENCH_DATABASE_URL, or false to skip PostgreSQL (--no-postgres).
 */
export async function runDatabaseScenarios(options: BenchOptions, sink: MailSink, sqlite: SqliteSetup, adminUrl: string | false): Promise<DatabaseResults> {
  if (adminUrl === false) return skipped(options, 'turned off (--no-postgres)');
  let database: BenchDatabase;
  try {
    database = await createBenchDatabase(adminUrl);
  } catch (error) {
    return skipped(options, `PostgreSQL unavailable: ${(error as Error).message}`);
  }
  options.log(`PostgreSQL: database ${database.name}`);
  const running: Child[] = [];
  try {
    const targets = [
      { setup: 'sqlite' as const, server: sqlite.server, driver: sqlite.driver, sesamePids: [sqlite.pid], cpuOf: {} },
      ...(await startPostgresSetups(options, sink, database, running)),
    ];
    const signIn = await compareSignIns(options, targets);
    const tokens = {} as Record<DatabaseTokenScenario, Record<Setup, Throughput>>;
    for (const target of targets) target.chains = await target.driver.tokenChains(options.concurrency);
    for (const scenario of DATABASE_TOKEN_SCENARIOS) tokens[scenario] = await compareTokens(options, targets, scenario);
    const ratios = {
      signIn: ratiosOf(signIn),
      tokens: Object.fromEntries(DATABASE_TOKEN_SCENARIOS.map((scenario) => [scenario, ratiosOf(tokens[scenario])])) as Record<DatabaseTokenScenario, Ratios>,
    };
    options.log(`  PostgreSQL/SQLite sign-ins ${ratios.signIn.postgresVsSqlite}, 2 vs 1 instance ${ratios.signIn.twoVsOne}`);
    return { database: database.name, server: database.server, signIn, tokens, ratios };
  } finally {
    for (const child of running.reverse()) await child.stop().catch(() => undefined);
    await database.drop().catch((error: Error) => options.log(`could not drop ${database.name}: ${error.message}`));
  }
}

function skipped(options: BenchOptions, reason: string): DatabaseResults {
  options.log(`PostgreSQL scenarios skipped: ${reason}`);
  return { skipped: reason };
}

/**
 * The three PostgreSQL setups on one database (seeded like SQLite's): an instance on its own, one
 * behind a proxy, two behind another. Every instance behind a proxy has the proxy's URL as ENDPOINT
 * (the issuer, and where its pages send the browser) and TRUST_PROXY=1; the proxies run in processes
 * of their own so their CPU is reported apart from Sesame's.
 */
async function startPostgresSetups(options: BenchOptions, sink: MailSink, database: BenchDatabase, running: Child[]): Promise<Target[]> {
  options.log('PostgreSQL: registering the bench app, seeding users, starting 4 instances and 2 proxies');
  const client = await registerBenchApp(database.url);
  await database.seedUsers(0, options.baseUsers);
  const start = async (env: Record<string, string> = {}): Promise<SesameInstance> => {
    const instance = await startSesameProcess({ databaseUrl: database.url, smtpPort: sink.port, env });
    running.push(instance.child);
    return instance;
  };
  const behindProxy = async (count: number) => {
    const port = await freePort();
    const env = { ENDPOINT: `http://127.0.0.1:${port}`, TRUST_PROXY: '1' };
    const instances: SesameInstance[] = [];
    for (let i = 0; i < count; i += 1) instances.push(await start(env));
    const proxy = await startProxy(port, instances.map((instance) => instance.child.url));
    running.push(proxy);
    return { instances, proxy };
  };
  const direct = await start();
  const one = await behindProxy(1);
  const two = await behindProxy(2);

  // One People for the three: the code-send caps they count against live in the shared database.
  const people = new People(options.baseUsers);
  const postgresPids = () => database.serverPids();
  const target = async (setup: Setup, instances: SesameInstance[], proxy?: Child): Promise<Target> => {
    const server = await discoverServer(instances[0]!.issuer, { ...client, redirectUri: REDIRECT_URI });
    return {
      setup,
      server,
      driver: new SignInDriver(server, sink, people),
      sesamePids: instances.map((instance) => instance.child.pid),
      cpuOf: proxy ? { postgres: postgresPids, proxy: async () => [proxy.pid] } : { postgres: postgresPids },
    };
  };
  return [await target('postgres', [direct]), await target('postgresProxy', one.instances, one.proxy), await target('postgresTwo', two.instances, two.proxy)];
}

async function startProxy(port: number, targets: string[]): Promise<Child> {
  return startChild({ script: 'bench/proxy.ts', port, probePath: '/health', env: { PORT: String(port), TARGETS: targets.join(',') } });
}

async function compareSignIns(options: BenchOptions, targets: Target[]): Promise<Record<Setup, SetupSignIns>> {
  const span = options.operations ? `${options.operations.signIns} sign-ins` : `${options.duration / 2} s`;
  options.log(`sign-ins on SQLite and PostgreSQL: ${options.concurrency} concurrent, slices of ${span}, ${targets.length * 2} slices`);
  // The PostgreSQL instances start for this comparison, while `npm run bench` hands in a SQLite
  // instance that has already served thousands of sign-ins: a fresh process spends its first
  // thousand or so compiling its hot paths, so without this every setup's first slice would measure
  // a cold process against a warm one. Each setup first serves sign-ins unmeasured for a while.
  const warmSeconds = Math.max(options.warmup, options.duration / 2);
  for (const target of targets) {
    await runLoad({ name: `warming ${SETUP_LABELS[target.setup]}`, concurrency: options.concurrency, seconds: warmSeconds, warmupSeconds: 0, op: target.driver.op });
  }
  const results = await alternate(targets, (target, warmup) =>
    runLoad({
      name: `sign-ins on ${SETUP_LABELS[target.setup]}`,
      concurrency: options.concurrency,
      ...measured(options, 'signIns', options.duration / 2),
      warmupSeconds: warmup ? options.warmup : 0,
      op: target.driver.op,
      serverPid: target.sesamePids,
      cpuOf: target.cpuOf,
    }),
  );
  const figures = {} as Record<Setup, SetupSignIns>;
  targets.forEach((target, i) => {
    figures[target.setup] = signInFigures(results[i]!);
    const f = figures[target.setup];
    options.log(`  ${SETUP_LABELS[target.setup]}: ${f.perSecond}/s, p95 ${f.p95} ms, CPU ms/sign-in Sesame ${f.sesameCpuMs}, PostgreSQL ${f.postgresCpuMs ?? '-'}, ${f.errors} errors`);
  });
  return figures;
}

function signInFigures(result: LoadResult): SetupSignIns {
  const perSignIn = (ms: number | undefined) => perOperation(result, ms);
  return {
    ...throughput(result),
    signIns: result.ops,
    sesameCpuMs: perSignIn(result.serverCpuMs) ?? 0,
    postgresCpuMs: perSignIn(result.cpuMs.postgres),
    proxyCpuMs: perSignIn(result.cpuMs.proxy),
    firstError: result.firstError,
  };
}

async function compareTokens(options: BenchOptions, targets: Target[], scenario: DatabaseTokenScenario): Promise<Record<Setup, Throughput>> {
  const results = await alternate(targets, (target, warmup) =>
    runLoad({
      name: `${scenario} on ${SETUP_LABELS[target.setup]}`,
      concurrency: options.concurrency,
      ...measured(options, 'tokens', options.duration / 2),
      warmupSeconds: warmup ? options.warmup : 0,
      op: tokenOp(target.server, scenario, target.chains!),
      serverPid: target.sesamePids,
    }),
  );
  const figures = Object.fromEntries(targets.map((target, i) => [target.setup, throughput(results[i]!)])) as Record<Setup, Throughput>;
  options.log(`  ${scenario}: ${SETUPS.map((setup) => `${SETUP_LABELS[setup]} ${figures[setup].perSecond}/s`).join(', ')}`);
  return figures;
}

function ratiosOf(figures: Record<Setup, { perSecond: number }>): Ratios {
  const ratio = (a: Setup, b: Setup) => round(figures[b].perSecond ? figures[a].perSecond / figures[b].perSecond : 0, 2);
  return { postgresVsSqlite: ratio('postgres', 'sqlite'), twoVsOne: ratio('postgresTwo', 'postgresProxy'), proxyVsDirect: ratio('postgresProxy', 'postgres') };
}

const SHORT_LABELS: Record<Setup, string> = { sqlite: 'SQLite', postgres: 'PG', postgresProxy: 'PG proxy', postgresTwo: 'PG 2 proxy' };

/** The comparison's part of the bench table (its first column is wider than the rest of the table's). */
export function formatDatabases(r: DatabaseResults): string[] {
  if ('skipped' in r) return [`SQLite vs PostgreSQL: PostgreSQL scenarios skipped: ${r.skipped}`];
  const lines: string[] = [];
  const row = (...cells: Array<string | number | undefined>) =>
    lines.push(cells.map((cell, i) => String(cell ?? '-').padEnd(i === 0 ? 30 : 11)).join(' ').trimEnd());
  lines.push(`SQLite vs PostgreSQL (database ${r.database} on ${r.server}; PG proxy = 1 instance behind the round-robin proxy, PG 2 proxy = 2 behind it)`);
  row('  sign-ins (CPU: ms/sign-in)', 'per s', 'p95 ms', 'vs SQLite', 'Sesame CPU', 'PG CPU', 'proxy CPU');
  for (const setup of SETUPS) {
    const s = r.signIn[setup];
    const vsSqlite = r.signIn.sqlite.perSecond ? round(s.perSecond / r.signIn.sqlite.perSecond, 2) : 0;
    row(`    ${SETUP_LABELS[setup]}`, s.perSecond, s.p95, vsSqlite, s.sesameCpuMs, s.postgresCpuMs, s.proxyCpuMs);
  }
  const errors = SETUPS.reduce((sum, setup) => sum + r.signIn[setup].errors, 0);
  const { signIn } = r.ratios;
  lines.push(`    PostgreSQL/SQLite ${signIn.postgresVsSqlite}; 2 vs 1 instance behind the proxy ${signIn.twoVsOne}; proxy vs direct ${signIn.proxyVsDirect}; ${errors} errors`);
  row('  tokens (per s)', ...SETUPS.map((setup) => SHORT_LABELS[setup]), 'PG/SQLite', '2 vs 1');
  for (const scenario of DATABASE_TOKEN_SCENARIOS) {
    const t = r.tokens[scenario];
    row(`    ${scenario}`, ...SETUPS.map((setup) => t[setup].perSecond), r.ratios.tokens[scenario].postgresVsSqlite, r.ratios.tokens[scenario].twoVsOne);
  }
  return lines;
}
