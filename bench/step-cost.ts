/**
 * `node --import tsx bench/step-cost.ts [concurrency] [rounds] [warm-up rounds] [--postgres] [--bare] [--profile]`: server CPU ms per HTTP
 * request of one email-code sign-in, request by request, to show where a sign-in's CPU goes.
 *
 * Each round starts `concurrency` sign-ins and walks them in lockstep: every sign-in sends its
 * first request, and only when all have answered (and the server's CPU has been read from
 * /proc/<pid>/stat) do they send the next. So each request's CPU is the server's alone over that
 * phase, summed over rounds (ticks are 10 ms; the sum over hundreds of sign-ins is what is precise).
 * The mail is sent while the address's POST is answered (Sesame waits for the SMTP server), so its
 * CPU lands on that request. `--bare` runs the same against bare oidc-provider (bare-provider.ts,
 * one form post) for the per-request floor. `--profile` runs Sesame with --cpu-prof and prints, request by
 * request, the functions where the server spent that request's phases (profile samples matched to the
 * phases by time: both sides read the same monotonic clock).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newBrowser } from './lib/http.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { authorizationRequest, discoverServer, exchangeCode, type Server } from './lib/oidc.ts';
import { createBenchDatabase, DEFAULT_BENCH_DATABASE_URL } from './lib/postgres.ts';
import { startBareProvider } from './lib/bare.ts';
import { cpuTicks } from './lib/processes.ts';
import { seedUsers } from './lib/seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess } from './lib/sesame.ts';
import { findForm, type HttpBrowser, type PageResponse } from '../test/helpers/browser.ts';

const args = process.argv.slice(2);
const [concurrency = 16, rounds = 40, warmRounds = 40] = args.filter((arg) => !arg.startsWith('--')).map(Number);
const dir = mkdtempSync(join(tmpdir(), 'sesame-steps-'));
const sink = await startMailSink();
const postgres = args.includes('--postgres') ? await createBenchDatabase(process.env.BENCH_DATABASE_URL ?? DEFAULT_BENCH_DATABASE_URL) : undefined;
let sesame = await startSesameProcess({ dir, smtpPort: sink.port, databaseUrl: postgres?.url });
const client = await registerBenchApp(sesame.databaseUrl);
if (postgres) await postgres.seedUsers(0, 1000);
else seedUsers(sesame.databaseFile, 0, 1000);
await sesame.child.stop();
const profileDir = join(dir, 'profile');
const profiling = args.includes('--profile');
sesame = await startSesameProcess({
  dir,
  smtpPort: sink.port,
  databaseUrl: postgres?.url,
  nodeArgs: profiling ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-interval', '250'] : [],
});
const bare = args.includes('--bare') ? await startBareProvider(dir, sesame.databaseFile, client) : undefined;

/** One sign-in as a list of requests, each run when the previous phase has ended. */
type Step = (state: Flow) => Promise<void>;
interface Flow {
  browser: HttpBrowser;
  server: Server;
  auth: ReturnType<typeof authorizationRequest>;
  page?: PageResponse;
  email: string;
  mail?: Promise<string>;
}

const request = (label: string, run: (flow: Flow) => Promise<PageResponse>, expectStatus?: number) =>
  [label, async (flow: Flow) => {
    const page = await run(flow);
    if (expectStatus !== undefined && page.status !== expectStatus) throw new Error(`${label}: ${page.status} ${page.body.slice(0, 200)}`);
    flow.page = page;
  }] as const;
const next = (flow: Flow) => flow.browser.request(flow.page!.location!);
const post = (suffix: string, fields: Record<string, string>) => (flow: Flow) => {
  const form = findForm(flow.page!.body, suffix);
  return flow.browser.request(new URL(form.action, flow.page!.url).toString(), { form: { ...form.fields, ...fields } });
};

const sesameSteps: Array<readonly [string, Step]> = [
  request('GET /oidc/auth', (flow) => flow.browser.request(flow.auth.url), 303),
  request('GET /interaction/:uid (email page)', next, 200),
  request('POST /email (code mailed)', (flow) => {
    flow.mail = sink.expect(flow.email);
    return post('/email', { email: flow.email })(flow);
  }, 303),
  request('GET code page', next, 200),
  request('POST /code', async (flow) => post('/code', { code: await flow.mail! })(flow), 303),
  request('GET /oidc/auth/:uid (resume)', next, 303),
  ['POST /oidc/token', async (flow) => void (await exchangeCode(flow.server, flow.page!.location!, flow.auth))],
];
const bareSteps: Array<readonly [string, Step]> = [
  request('GET /oidc/auth', (flow) => flow.browser.request(flow.auth.url), 303),
  request('GET /interaction/:uid (form)', next, 200),
  request('POST /login', post('/login', {}), 303),
  request('GET /oidc/auth/:uid (resume)', next, 303),
  ['POST /oidc/token', async (flow) => void (await exchangeCode(flow.server, flow.page!.location!, flow.auth))],
];

async function measure(name: string, issuer: string, pid: number, steps: Array<readonly [string, Step]>) {
  const server = await discoverServer(issuer, { ...client, redirectUri: REDIRECT_URI });
  const ticks = steps.map(() => 0);
  const phases: Phase[] = [];
  let n = 0;
  for (let round = -warmRounds; round < rounds; round += 1) {
    // Warm-up rounds first, not counted: until the JIT has compiled the hot paths (a large app like
    // Sesame takes some thousand sign-ins), a helper thread's compiling shows up as request CPU.
    // Half the addresses are seeded accounts, half new.
    const flows: Flow[] = Array.from({ length: concurrency }, () => {
      n += 1;
      return { browser: newBrowser(), server, auth: authorizationRequest(server), email: n % 2 ? `seed-${n % 1000}@example.com` : `s-${process.pid}-${n}@example.com` };
    });
    for (const [index, [, step]] of steps.entries()) {
      const before = cpuTicks(pid);
      const startedUs = Number(process.hrtime.bigint() / 1000n);
      await Promise.all(flows.map(step));
      if (round >= 0) ticks[index]! += cpuTicks(pid) - before;
      if (round >= 0) phases.push({ step: index, fromUs: startedUs, toUs: Number(process.hrtime.bigint() / 1000n) });
    }
  }
  const signIns = concurrency * rounds;
  const total = ticks.reduce((a, b) => a + b, 0);
  console.log(`\n${name}: ${signIns} sign-ins, ${concurrency} at a time; server CPU ms per sign-in, request by request`);
  for (const [index, [label]] of steps.entries()) console.log(`  ${((ticks[index]! * 10) / signIns).toFixed(3).padStart(7)}  ${label}`);
  console.log(`  ${((total * 10) / signIns).toFixed(3).padStart(7)}  all`);
  return phases;
}

interface Phase {
  step: number;
  fromUs: number;
  toUs: number;
}

/** Self time by function within each step's phases, from the V8 CPU profile of the main thread. */
function summarizeProfile(file: string, phases: Phase[], steps: Array<readonly [string, Step]>, signIns: number) {
  interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; samples: number[]; timeDeltas: number[] };
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const bySteps = steps.map(() => new Map<string, number>());
  // STEP_COST_WHO=name: also the call paths that lead to that function, per step.
  const who = process.env.STEP_COST_WHO;
  const parents = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node.id);
  const paths = steps.map(() => new Map<string, number>());
  let at = profile.startTime;
  let phase = 0;
  const sorted = [...phases].sort((a, b) => a.fromUs - b.fromUs);
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    while (phase < sorted.length && sorted[phase]!.toUs < at) phase += 1;
    const current = sorted[phase];
    if (!current || current.fromUs > at) return;
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') return;
    const where = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? url.split('/').pop() ?? '';
    const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    const map = bySteps[current.step]!;
    map.set(key, (map.get(key) ?? 0) + delta);
    if (who && functionName === who) {
      const frames: string[] = [];
      for (let up = parents.get(id); up !== undefined && frames.length < 8; up = parents.get(up)) {
        const frame = nodes.get(up)!.callFrame;
        frames.push(`${frame.functionName || '(anonymous)'}@${frame.url.split('/').pop()}:${frame.lineNumber + 1}`);
      }
      const path = frames.join(' < ');
      paths[current.step]!.set(path, (paths[current.step]!.get(path) ?? 0) + delta);
    }
  });
  for (const [index, [label]] of steps.entries()) {
    const map = bySteps[index]!;
    const total = [...map.values()].reduce((a, b) => a + b, 0);
    console.log(`\n${label}: ${(total / 1000 / signIns).toFixed(3)} ms sampled per sign-in; top self time (µs per sign-in)`);
    for (const [key, time] of [...map].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${(time / signIns).toFixed(1).padStart(7)}  ${key}`);
    for (const [path, time] of [...paths[index]!].sort((a, b) => b[1] - a[1]).slice(0, 5)) console.log(`    ${who}: ${(time / signIns).toFixed(1)} µs < ${path}`);
  }
}

try {
  const phases = await measure('Sesame', sesame.issuer, sesame.child.pid, sesameSteps);
  if (profiling) {
    await sesame.child.stop();
    const main = readdirSync(profileDir).find((name) => /\.0\.\d+\.cpuprofile$/.test(name) || readdirSync(profileDir).length === 1);
    summarizeProfile(join(profileDir, main!), phases, sesameSteps, concurrency * rounds);
  }
  if (bare) await measure('bare oidc-provider', `${bare.url}/oidc`, bare.pid, bareSteps);
} finally {
  await bare?.stop();
  await sesame.child.stop();
  await sink.close();
  await postgres?.drop();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
