/**
 * `node --import tsx bench/profile-scenario.ts signin|refresh|userinfo|introspection|discovery|jwks [concurrency] [seconds] [noprofile]`:
 * one scenario alone against a Sesame started with --cpu-prof, so the profile holds nothing else.
 * PROFILE_DATABASE=postgres runs it on a fresh PostgreSQL database (BENCH_DATABASE_URL's server);
 * PROFILE_WORKERS=N runs Sesame with WORKERS=N.
 * PROFILE_TARGET=bare profiles bare oidc-provider (bench/bare-provider.ts, its one-form sign-in for
 * signin) instead, for a profile to set beside Sesame's.
 * PROFILE_SETTLE=S runs the scenario S seconds first and profiles only the measured seconds after
 * (bench/lib/profile-on-signal.mjs): a settled server, without start-up and the JIT's warm-up.
 * The profile lands in bench/results/profiles; read it with bench/profile-summary.ts.
 * PROFILE_COUNT=promises (with PROFILE_SETTLE) counts, instead of profiling, the promises the server's
 * main thread creates per operation and per HTTP request (bench/lib/count-promises-on-signal.mjs).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './lib/load.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer, emailSignIn, formSignIn, SIGN_IN_STEPS, type SignInStep, type Tokens } from './lib/oidc.ts';
import { seedUsers } from './lib/seed.ts';
import { createBenchDatabase, DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess } from './lib/sesame.ts';
import { summarize } from './lib/stats.ts';
import { RESULTS_DIR } from './bench.ts';
import { startBareProvider } from './lib/bare.ts';
import { isTokenScenario, tokenOp, TOKEN_SCENARIOS } from './lib/scenarios.ts';

const [scenario = 'signin', concurrencyArg = '16', secondsArg = '8', profileArg = 'profile'] = process.argv.slice(2);
if (scenario !== 'signin' && !isTokenScenario(scenario)) {
  throw new Error(`unknown scenario ${scenario}: signin or one of ${TOKEN_SCENARIOS.join(', ')}`);
}
const concurrency = Number(concurrencyArg);
const dir = mkdtempSync(join(tmpdir(), 'sesame-profile-'));
const sink = await startMailSink();
const postgres =
  process.env.PROFILE_DATABASE === 'postgres' ? await createBenchDatabase(process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_DATABASE_URL) : undefined;
let sesame = await startSesameProcess({ dir, smtpPort: sink.port, databaseUrl: postgres?.url });
const client = await registerBenchApp(sesame.databaseUrl);
if (postgres) await postgres.seedUsers(0, 1000);
else seedUsers(sesame.databaseFile, 0, 1000);
await sesame.child.stop();
const settle = Number(process.env.PROFILE_SETTLE ?? 0);
const bare = process.env.PROFILE_TARGET === 'bare';
const countPromises = process.env.PROFILE_COUNT === 'promises';
if (countPromises && !(settle > 0)) throw new Error('PROFILE_COUNT=promises needs PROFILE_SETTLE (it counts after the settling)');
const settledProfile = join(
  RESULTS_DIR,
  'profiles',
  `settled-${bare ? 'bare-' : ''}${scenario}-${process.pid}.${countPromises ? 'promises.json' : 'cpuprofile'}`,
);
const profiling = profileArg === 'profile';
mkdirSync(join(RESULTS_DIR, 'profiles'), { recursive: true });
const nodeArgs = !profiling
  ? []
  : settle > 0
    ? ['--import', join(import.meta.dirname, 'lib', countPromises ? 'count-promises-on-signal.mjs' : 'profile-on-signal.mjs')]
    : ['--cpu-prof', '--cpu-prof-dir', join(RESULTS_DIR, 'profiles')];
const profileEnv: Record<string, string> = profiling && settle > 0 ? { PROFILE_OUT: settledProfile } : {};
sesame = await startSesameProcess({
  dir,
  smtpPort: sink.port,
  databaseUrl: postgres?.url,
  nodeArgs: bare ? [] : nodeArgs,
  env: {
    // PROFILE_WORKERS=N: WORKERS=N (each worker writes a profile of its own; the CPU figure is the primary's only).
    ...(process.env.PROFILE_WORKERS && { WORKERS: process.env.PROFILE_WORKERS }),
    ...(!bare && profileEnv),
  },
});
const bareProvider = bare ? await startBareProvider(dir, sesame.databaseFile, client, { nodeArgs, env: profileEnv }) : undefined;
const target = bareProvider ? { issuer: `${bareProvider.url}/oidc`, pid: bareProvider.pid } : { issuer: sesame.issuer, pid: sesame.child.pid };
const server = await discoverServer(target.issuer, { ...client, redirectUri: REDIRECT_URI });
const steps = Object.fromEntries(SIGN_IN_STEPS.map((step) => [step, [] as number[]])) as Record<SignInStep, number[]>;
let n = 0;
const signIn = () => (bare ? formSignIn(server) : emailSignIn(server, sink, `p-${process.pid}-${(n += 1)}@example.com`, steps));
const chains: Tokens[] = scenario === 'signin' ? [] : await Promise.all(Array.from({ length: concurrency }, signIn));
const tokens = isTokenScenario(scenario) ? tokenOp(server, scenario, chains) : undefined;
const op = async (worker: number) => {
  if (tokens) await tokens(worker);
  else await signIn();
};
const profileNow = () => profiling && settle > 0 && process.kill(target.pid, 'SIGUSR2');
const result = await runLoad({ concurrency, seconds: Number(secondsArg), warmupSeconds: Math.max(1, settle), op, serverPid: target.pid, onMeasure: profileNow });
profileNow();
console.log(`${scenario}: ${result.perSecond.toFixed(1)}/s, errors ${result.errors} ${result.firstError ?? ''}, server CPU ${result.serverCpu}%, client CPU ${result.clientCpu}%`);
console.log('latency', summarize(result.latencies));
if (scenario === 'signin' && !bare) for (const step of SIGN_IN_STEPS) console.log(step.padEnd(14), summarize(steps[step]));
console.log(`server CPU per operation: ${((result.serverCpuMs ?? 0) / Math.max(1, result.ops)).toFixed(3)} ms`);
if (profiling && settle > 0) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  if (countPromises) {
    const { promises, requests } = JSON.parse(readFileSync(settledProfile, 'utf8')) as { promises: number; requests: number };
    console.log(`promises: ${(promises / Math.max(1, result.ops)).toFixed(1)} per operation, ${(promises / Math.max(1, requests)).toFixed(1)} per HTTP request`);
  } else console.log(`settled profile: ${settledProfile}`);
}
await bareProvider?.stop();
await sesame.child.stop();
await sink.close();
await postgres?.drop();
rmSync(dir, { recursive: true, force: true });
process.exit(0);
