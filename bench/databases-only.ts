/**
 * The SQLite-vs-PostgreSQL part of `npm run bench` alone (about 3 minutes instead of 12):
 *
 *   node --import tsx bench/databases-only.ts [--duration S]
 *
 * One Sesame on SQLite, and on BENCH_DATABASE_URL's server one instance direct, one behind the
 * round-robin proxy and two behind it, sign-ins and the refresh and userinfo scenarios in
 * alternating slices (lib/databases.ts), with the same defaults as the full bench. Prints the same
 * table. For checking issue 12's target (PostgreSQL >= 70% of SQLite's sign-ins/s) after a change.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULTS } from './bench.ts';
import { formatDatabases, runDatabaseScenarios } from './lib/databases.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer } from './lib/oidc.ts';
import { DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { People, SignInDriver, type BenchOptions } from './lib/scenarios.ts';
import { seedUsers } from './lib/seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess } from './lib/sesame.ts';

const { values } = parseArgs({ options: { duration: { type: 'string' } } });
const options: BenchOptions = { ...DEFAULTS, duration: Number(values.duration ?? DEFAULTS.duration), log: (line) => console.log(line) };
const work = mkdtempSync(join(tmpdir(), 'sesame-databases-'));
const sink = await startMailSink();
const dir = join(work, 'sqlite');
mkdirSync(dir);
const sesame = await startSesameProcess({ dir, smtpPort: sink.port });
try {
  const client = await registerBenchApp(sesame.databaseUrl);
  seedUsers(sesame.databaseFile, 0, options.baseUsers);
  const server = await discoverServer(sesame.issuer, { ...client, redirectUri: REDIRECT_URI });
  const driver = new SignInDriver(server, sink, new People(options.baseUsers));
  const results = await runDatabaseScenarios(options, sink, { server, driver, pid: sesame.child.pid }, process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_DATABASE_URL);
  console.log(formatDatabases(results).join('\n'));
  console.log(JSON.stringify(results));
} finally {
  await sesame.child.stop();
  await sink.close();
  rmSync(work, { recursive: true, force: true });
}
