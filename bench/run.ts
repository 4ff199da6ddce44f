/**
 * `npm run bench [-- --concurrency 32 --duration 10 --warmup 2 --quick --profile --out FILE]`
 * or, counting operations instead of timing them, `npm run bench -- --quick --sign-ins 3 --requests 5`.
 * Starts Sesame and bare oidc-provider in child processes, drives them over loopback, prints a table
 * and writes the figures to bench/results/latest.json.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { COUNTED, DEFAULTS, formatTable, QUICK, RESULTS_DIR, runBench, type BenchOptions } from './bench.ts';

const { values } = parseArgs({
  options: {
    concurrency: { type: 'string', short: 'c' },
    duration: { type: 'string', short: 'd' },
    warmup: { type: 'string' },
    settle: { type: 'string' },
    'sign-ins': { type: 'string' },
    requests: { type: 'string' },
    deadline: { type: 'string' },
    'memory-sign-ins': { type: 'string' },
    'refresh-tokens': { type: 'string' },
    'growth-users': { type: 'string' },
    workers: { type: 'string' },
    quick: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'no-postgres': { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  console.log(`Usage: npm run bench -- [options]
  -c, --concurrency N      concurrent clients (default ${DEFAULTS.concurrency})
  -d, --duration S         measured seconds per scenario (default ${DEFAULTS.duration})
      --warmup S           warm-up seconds before each measurement (default ${DEFAULTS.warmup})
      --settle S           seconds each server runs a flow before the first Sesame-vs-bare slice, so the JIT
                           has settled (sign-in ceiling and each WORKERS setting; a quarter of it before each
                           token scenario; default ${DEFAULTS.settle})
      --sign-ins N         count instead of time: measure N sign-ins per sign-in reading (default ${COUNTED.signIns})
      --requests N         count instead of time: N requests per token slice (default ${COUNTED.tokens})
      --deadline S         when counting, fail a measurement not done in S seconds (default ${COUNTED.deadlineSeconds})
      --memory-sign-ins N  sign-ins before the second RSS reading (default ${DEFAULTS.memorySignIns})
      --refresh-tokens N   stored refresh tokens before the third RSS reading (default ${DEFAULTS.storedRefreshTokens})
      --growth-users N     users for the growth scenario (default ${DEFAULTS.growthUsers})
      --workers LIST       WORKERS settings whose sign-ins are compared, e.g. 1,2 or 1,auto (default ${DEFAULTS.workers.join(',')})
      --quick              a few-second smoke run with tiny counts
      --no-postgres        skip the PostgreSQL scenarios (else they run on BENCH_DATABASE_URL, default
                           ${DEFAULT_BENCH_DATABASE_URL}, and are skipped when it cannot be reached)
      --profile            write a CPU profile of the main Sesame process to bench/results/profiles
      --out FILE           where to write the JSON (default bench/results/latest.json)`);
  process.exit(0);
}

const number = (name: string, raw: string | undefined, fallback: number) => {
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) {
    console.error(`--${name} must be a positive number, got "${raw}"`);
    process.exit(2);
  }
  return value;
};

/** `--workers 1,2,auto`: each a whole number from 1 to 64 or auto (the cores, as Sesame reads it); duplicates dropped. */
const workerList = (raw: string | undefined, fallback: readonly number[]): number[] => {
  if (raw === undefined) return [...fallback];
  const list = raw.split(',').map((item) => (item.trim() === 'auto' ? availableParallelism() : Number(item)));
  if (!list.length || list.some((n) => !Number.isInteger(n) || n < 1 || n > 64)) {
    console.error(`--workers takes numbers from 1 to 64 or auto, separated by commas, got "${raw}"`);
    process.exit(2);
  }
  return [...new Set(list)];
};

const base = values.quick ? QUICK : DEFAULTS;
const counted = values['sign-ins'] !== undefined || values.requests !== undefined || values.deadline !== undefined;
const options: BenchOptions = {
  ...base,
  operations: counted
    ? {
        signIns: Math.round(number('sign-ins', values['sign-ins'], COUNTED.signIns)),
        tokens: Math.round(number('requests', values.requests, COUNTED.tokens)),
        deadlineSeconds: number('deadline', values.deadline, COUNTED.deadlineSeconds),
      }
    : undefined,
  concurrency: Math.round(number('concurrency', values.concurrency, base.concurrency)),
  duration: number('duration', values.duration, base.duration),
  warmup: number('warmup', values.warmup, base.warmup),
  settle: number('settle', values.settle, base.settle),
  memorySignIns: Math.round(number('memory-sign-ins', values['memory-sign-ins'], base.memorySignIns)),
  storedRefreshTokens: Math.round(number('refresh-tokens', values['refresh-tokens'], base.storedRefreshTokens)),
  growthUsers: Math.round(number('growth-users', values['growth-users'], base.growthUsers)),
  workers: workerList(values.workers, base.workers),
  postgres: values['no-postgres'] ? false : undefined,
  profileDir: values.profile ? join(RESULTS_DIR, 'profiles') : undefined,
  log: (line) => console.error(line),
};

const results = await runBench(options);
const out = values.out ?? join(RESULTS_DIR, 'latest.json');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
console.log(formatTable(results));
console.log(`\nwritten to ${out}`);
// undici keeps idle sockets; the figures are written, so do not wait for them.
process.exit(0);
