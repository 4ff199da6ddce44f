/**
 * What one change costs, measured in one run:
 *
 *   node --import tsx bench/ab-builds.ts TREE_A TREE_B [--slices 3] [--seconds 8] [--concurrency 16] [--postgres]
 *                                        [--scenario signin|refresh|userinfo|introspection|discovery|jwks] [--settle S]
 *
 * Each TREE is a copy of this project (src, migrations, templates, public, package.json; node_modules
 * may be a link to this one) in which `npm run build` has made dist/server/main.mjs, e.g. this tree and
 * a copy with the change undone. Both run as production runs them, each on a SQLite database of its
 * own seeded alike, and email-code sign-ins run against them in alternating slices (A-B-B-A, repeated
 * `--slices` times) so machine-load drift hits both alike. Reports sign-ins/s and server CPU ms per
 * sign-in of each, and B/A. CPU per sign-in is the figure to read: it moves much less with load.
 * `--scenario` measures one of the token scenarios instead (each worker first signs one person in for
 * its tokens): requests/s and server CPU ms per request. `--settle S` runs the scenario S seconds on each
 * first, unmeasured: until V8 has compiled the hot paths (some thousand sign-ins), its compiler's CPU
 * is counted with the server's, and differs between two builds.
 *
 * `--postgres`: each on a fresh PostgreSQL database of its own on BENCH_DATABASE_URL's server instead;
 * the CPU figure then adds the server processes working for that database (its backends, and the
 * background processes both share) to Sesame's.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { runLoad, type LoadResult } from './lib/load.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer } from './lib/oidc.ts';
import { alternate, isTokenScenario, People, perOperation, pool, SignInDriver, tokenOp, TOKEN_SCENARIOS } from './lib/scenarios.ts';
import { seedUsers } from './lib/seed.ts';
import { createBenchDatabase, DEFAULT_BENCH_DATABASE_URL, type BenchDatabase } from './lib/postgres.ts';
import { REDIRECT_URI, startSesameProcess } from './lib/sesame.ts';
import { round } from './lib/stats.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    slices: { type: 'string' },
    seconds: { type: 'string' },
    concurrency: { type: 'string' },
    postgres: { type: 'boolean' },
    scenario: { type: 'string' },
    settle: { type: 'string' },
  },
});
if (positionals.length !== 2) {
  console.error('usage: ab-builds.ts TREE_A TREE_B [--slices 3] [--seconds 8] [--concurrency 16] [--postgres] [--scenario NAME] [--settle S]');
  process.exit(2);
}
const scenario = values.scenario ?? 'signin';
if (scenario !== 'signin' && !isTokenScenario(scenario)) {
  console.error(`--scenario: signin or one of ${TOKEN_SCENARIOS.join(', ')}`);
  process.exit(2);
}
/** The JSON's name for what one operation is. */
const perWhat = scenario === 'signin' ? 'SignIn' : 'Request';
const slices = Number(values.slices ?? 3);
const seconds = Number(values.seconds ?? 8);
const concurrency = Number(values.concurrency ?? 16);
const settle = Number(values.settle ?? 0);
const BASE_USERS = 2000;

const work = mkdtempSync(join(tmpdir(), 'sesame-ab-'));
const sink = await startMailSink();
const databases: BenchDatabase[] = [];
const setups: { name: string; pids: () => Promise<number[]>; op: (worker: number) => Promise<unknown>; stop: () => Promise<void> }[] = [];
try {
  for (const [i, tree] of positionals.entries()) {
    const name = i === 0 ? 'A' : 'B';
    const dir = join(work, name);
    mkdirSync(dir);
    const database = values.postgres ? await createBenchDatabase(process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_DATABASE_URL) : undefined;
    if (database) databases.push(database);
    const build = resolve(tree, 'dist', 'server', 'main.mjs');
    const instance = await startSesameProcess({ dir, smtpPort: sink.port, build, ...(database && { databaseUrl: database.url }) });
    // Registered by the tree's own CLI: the two trees' schemas may differ.
    const client = registerWithCli(tree, instance.databaseUrl);
    if (database) await database.seedUsers(0, BASE_USERS);
    else seedUsers(instance.databaseFile, 0, BASE_USERS);
    const server = await discoverServer(instance.issuer, { ...client, redirectUri: REDIRECT_URI });
    const pid = instance.child.pid;
    const driver = new SignInDriver(server, sink, new People(BASE_USERS));
    const op = isTokenScenario(scenario) ? tokenOp(server, scenario, await driver.tokenChains(concurrency)) : driver.op;
    setups.push({
      name,
      pids: async () => [pid, ...((await database?.serverPids()) ?? [])],
      op,
      stop: () => instance.child.stop(),
    });
    console.log(`${name}: ${tree} (pid ${pid}${database ? `, database ${database.name}` : ''})`);
  }
  for (const setup of setups) {
    if (settle > 0) await runLoad({ name: `settling ${setup.name}`, concurrency, seconds: settle, warmupSeconds: 0, op: setup.op, serverPid: await setup.pids() });
  }
  const results: LoadResult[][] = [];
  for (let pair = 0; pair < slices; pair += 1) {
    results.push(
      await alternate(setups, async (setup, warmup) =>
        runLoad({ name: `${scenario} on ${setup.name}`, concurrency, seconds: seconds / 2, warmupSeconds: warmup ? 2 : 0, op: setup.op, serverPid: await setup.pids() }),
      ),
    );
    const line = results[pair]!.map((result, i) => `${setups[i]!.name} ${round1(result.perSecond)}/s ${round(perOperation(result, result.serverCpuMs) ?? 0, 3)} ms CPU`);
    console.log(`slice pair ${pair + 1}: ${line.join(', ')}`);
  }
  const pooled = setups.map((_, i) => results.map((pair) => pair[i]!).reduce((a, b) => pool(a, b)));
  const cpu = pooled.map((result) => (result.serverCpuMs ?? 0) / Math.max(1, result.ops));
  const figures = pooled.map((result, i) => ({
    build: setups[i]!.name,
    tree: positionals[i],
    scenario,
    perSecond: round1(result.perSecond),
    [`cpuMsPer${perWhat}`]: round(cpu[i]!, 3),
    operations: result.ops,
    errors: result.errors,
  }));
  const ratio = { perSecond: round(pooled[1]!.perSecond / pooled[0]!.perSecond, 3), cpuMsPerOperation: round(cpu[1]! / cpu[0]!, 3) };
  console.log(JSON.stringify({ figures, ratio }, null, 2));
} finally {
  for (const setup of setups) await setup.stop().catch(() => undefined);
  for (const database of databases) await database.drop().catch(() => undefined);
  await sink.close();
  rmSync(work, { recursive: true, force: true });
}

/** `sesame app create --json` of `tree`, on the running instance's database. */
function registerWithCli(tree: string, databaseUrl: string): { id: string; secret: string } {
  const args = ['--import', 'tsx', 'src/cli.ts', 'app', 'create', '--name', 'Bench', '--type', 'traditional', '--redirect-uri', REDIRECT_URI, '--json'];
  const out = execFileSync(process.execPath, args, { cwd: tree, env: { ...process.env, DATABASE_URL: databaseUrl, NODE_ENV: 'test', LOG_LEVEL: 'silent' } });
  const app = JSON.parse(out.toString()) as { id?: string; clientId?: string; secret?: string; clientSecret?: string };
  return { id: String(app.id ?? app.clientId), secret: String(app.secret ?? app.clientSecret) };
}

function round1(value: number): number {
  return Math.round(value * 10) / 10;
}
