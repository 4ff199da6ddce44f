/**
 * How many SQL statements one email-code sign-in runs, by statement.
 *
 *   node --import tsx bench/statements-per-sign-in.ts [SIGN_INS=10] [--by-statement] [--by-step] [--json] [--postgres]
 *
 * Sesame runs in this process (startSesame, NODE_ENV=test, a temp SQLite file, mail to a real SMTP
 * sink on loopback); every statement the SQLite engine runs is counted (inside transactions too,
 * BEGIN IMMEDIATE and COMMIT included). One warm-up sign-in (first-use work: key import, statement
 * cache), then SIGN_INS sign-ins, half new addresses, half existing accounts. `--json` prints one
 * JSON line instead ({ signIns, statements, perSignIn }), for the bench, which runs it in the same run.
 * `--postgres` runs Sesame on a fresh PostgreSQL database (BENCH_DATABASE_URL's server) and counts
 * every query sent to the server instead (BEGIN, COMMIT, advisory locks, the rate-limit flush and the
 * settings feed's LISTEN included), and the round trips they took: statements a connection writes
 * together (a transaction's BEGIN and its writes sent ahead go with the next statement, see
 * src/db/postgres.ts) are one round trip. The JSON then has `roundTrips` and `roundTripsPerSignIn` too.
 * Transaction control (BEGIN, COMMIT, SAVEPOINT, RELEASE, ROLLBACK) is counted too, and also on its own
 * (`transactionControlPerSignIn`). One sign-in runs at a time here, so SQLite's group commit (src/db/sqlite.ts)
 * has nothing to group: each write outside a transaction is a batch of its own (BEGIN IMMEDIATE, the
 * write, COMMIT), where under load the writes of a turn share them.
 * `--by-step` splits the statements by sign-in step (the client's steps: one sign-in runs at a time, so
 * every statement before a step ends belongs to it).
 */
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { loadConfig } from '../src/config/index.ts';
import { startSesame } from '../src/server.ts';
import pg from 'pg';
import { SqliteEngine } from '../src/db/sqlite.ts';
import { createBenchDatabase, DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { createApplication } from '../src/management/applications.ts';
import { agent } from './lib/http.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer, emailSignIn, SIGN_IN_STEPS, type SignInStep } from './lib/oidc.ts';
import { freePort } from './lib/processes.ts';
import { REDIRECT_URI } from './lib/sesame.ts';

const signIns = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 10);
const byStatement = process.argv.includes('--by-statement');
const json = process.argv.includes('--json');
const byStep = process.argv.includes('--by-step');
const onPostgres = process.argv.includes('--postgres');

const counts = new Map<string, number>();
/** BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE: counted among the statements, and on their own too. */
const TRANSACTION_CONTROL = /^(begin|commit|rollback|savepoint|release|start transaction)\b/i;
let sinceLastStep: string[] = [];
let counting = false;
const count = (sql: string) => {
  if (!counting) return;
  const statement = sql.replace(/\s+/g, ' ').trim();
  counts.set(statement, (counts.get(statement) ?? 0) + 1);
  sinceLastStep.push(statement);
};
const stepCounts = new Map<SignInStep, Map<string, number>>();
/** PostgreSQL round trips since the last step ended, and per step. */
let tripsSinceLastStep = 0;
const stepTrips = new Map<SignInStep, number>();
/** emailSignIn pushes each step's time when the step ends: take the statements run since the last one. */
const stepRecorder = (step: SignInStep) =>
  Object.assign([] as number[], {
    push(...times: number[]) {
      const mine = stepCounts.get(step) ?? new Map<string, number>();
      for (const statement of sinceLastStep) mine.set(statement, (mine.get(statement) ?? 0) + 1);
      stepCounts.set(step, mine);
      sinceLastStep = [];
      stepTrips.set(step, (stepTrips.get(step) ?? 0) + tripsSinceLastStep);
      tripsSinceLastStep = 0;
      return Array.prototype.push.apply(this, times);
    },
  });
// Every statement, direct or in a transaction, and BEGIN/COMMIT go through prepare() (a statement
// cache: it is called for every run, not only for the first).
const prepare = SqliteEngine.prototype.prepare;
SqliteEngine.prototype.prepare = function (this: SqliteEngine, sql: string, parameterless: boolean) {
  count(sql);
  return prepare.call(this, sql, parameterless);
};
// On PostgreSQL every query the pool's clients (and the settings feed's) send is counted; those one
// client issues in the same turn of the event loop (a batch the driver writes at once) make one round trip.
let roundTrips = 0;
const batching = new WeakSet<pg.Client>();
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  const [first] = args;
  count(typeof first === 'string' ? first : String((first as { text?: unknown }).text ?? first));
  if (counting && !batching.has(this)) {
    roundTrips++;
    tripsSinceLastStep++;
    batching.add(this);
    setImmediate(() => batching.delete(this));
  }
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;
const postgres = onPostgres ? await createBenchDatabase(process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_DATABASE_URL) : undefined;

const dir = mkdtempSync(join(tmpdir(), 'sesame-statements-'));
const sink = await startMailSink();
const port = await freePort();
const config = loadConfig({
  NODE_ENV: 'test',
  PORT: String(port),
  HOST: '127.0.0.1',
  ENDPOINT: `http://127.0.0.1:${port}`,
  DATABASE_URL: postgres?.url ?? `sqlite:${join(dir, 'sesame.db')}`,
  LOG_LEVEL: 'silent',
  SMTP_HOST: '127.0.0.1',
  SMTP_PORT: String(sink.port),
  SMTP_SECURE: 'false',
  SMTP_FROM: 'Sesame <no-reply@sesame.test>',
  RATE_LIMIT_PER_MINUTE: '1000000',
  CODE_SENDS_PER_IP: '1000000',
});
const sesame = await startSesame(config, { devMailbox: false });
try {
  const app = await createApplication(sesame.db, {
    name: 'Statements',
    type: 'traditional',
    redirectUris: [REDIRECT_URI],
    postLogoutRedirectUris: ['http://127.0.0.1:9/'],
  });
  const server = await discoverServer(config.issuer, { id: app.id, secret: app.secret, redirectUri: REDIRECT_URI });
  const steps = Object.fromEntries(SIGN_IN_STEPS.map((step) => [step, stepRecorder(step)])) as Record<SignInStep, number[]>;
  await emailSignIn(server, sink, 'warm-up@example.com', steps);
  counting = true;
  stepCounts.clear();
  stepTrips.clear();
  sinceLastStep = [];
  tripsSinceLastStep = 0;
  for (let i = 0; i < signIns; i++) {
    // Even: a new address; odd: the account the previous sign-in created.
    const email = `person-${Math.floor(i / 2)}@example.com`;
    await emailSignIn(server, sink, email, steps);
  }
  counting = false;
  const total = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const control = [...counts].filter(([sql]) => TRANSACTION_CONTROL.test(sql)).reduce((sum, [, n]) => sum + n, 0);
  const perSignIn = (n: number) => Math.round((n / signIns) * 10) / 10;
  const trips = onPostgres ? { roundTrips, roundTripsPerSignIn: perSignIn(roundTrips) } : {};
  if (json) console.log(JSON.stringify({ signIns, statements: total, perSignIn: perSignIn(total), transactionControlPerSignIn: perSignIn(control), ...trips }));
  else {
    console.log(`${signIns} email-code sign-ins: ${total} SQL statements, ${(total / signIns).toFixed(1)} per sign-in, ${(control / signIns).toFixed(1)} of them transaction control`);
    if (onPostgres) console.log(`round trips to PostgreSQL: ${roundTrips}, ${(roundTrips / signIns).toFixed(1)} per sign-in`);
  }
  if (byStatement) {
    for (const [sql, n] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${(n / signIns).toFixed(1).padStart(6)}  ${sql.slice(0, 150)}`);
  }
  if (byStep) {
    for (const [step, statements] of stepCounts) {
      const n = [...statements.values()].reduce((sum, k) => sum + k, 0);
      const trips = onPostgres ? `, ${((stepTrips.get(step) ?? 0) / signIns).toFixed(1)} round trips` : '';
      console.log(`\n${step}: ${(n / signIns).toFixed(1)} per sign-in${trips}`);
      for (const [sql, k] of [...statements].sort((a, b) => b[1] - a[1])) console.log(`${(k / signIns).toFixed(1).padStart(6)}  ${sql.slice(0, 150)}`);
    }
  }
} finally {
  await sesame.close();
  await sink.close();
  await agent.close();
  await postgres?.drop();
  rmSync(dir, { recursive: true, force: true });
}
