/**
 * `node --import tsx bench/request-cost.ts [scenarios] [seconds] [concurrency] [settle seconds]`: server CPU µs per request of
 * the token scenarios (default all: refresh,userinfo,introspection,discovery,jwks) on Sesame (SQLite,
 * WORKERS=1) and on bare oidc-provider, in A-B-B-A slices, with the difference. Throughput moves with
 * the machine's load; CPU per request is what a change to one endpoint's path shows best.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLoad } from './lib/load.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer, emailSignIn, formSignIn, SIGN_IN_STEPS, type SignInStep, type Tokens } from './lib/oidc.ts';
import { startBareProvider } from './lib/bare.ts';
import { tokenOp, TOKEN_SCENARIOS, type TokenScenario } from './lib/scenarios.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess } from './lib/sesame.ts';

const [list = TOKEN_SCENARIOS.join(','), secondsArg = '4', concurrencyArg = '16', settleArg = '5'] = process.argv.slice(2);
const scenarios = list.split(',') as TokenScenario[];
const concurrency = Number(concurrencyArg);
const dir = mkdtempSync(join(tmpdir(), 'sesame-request-cost-'));
const sink = await startMailSink();
let sesame = await startSesameProcess({ dir, smtpPort: sink.port });
const client = await registerBenchApp(sesame.databaseUrl);
await sesame.child.stop();
sesame = await startSesameProcess({ dir, smtpPort: sink.port });
const bare = await startBareProvider(dir, sesame.databaseFile, client);

const credentials = { ...client, redirectUri: REDIRECT_URI };
const targets = [
  { name: 'Sesame', server: await discoverServer(sesame.issuer, credentials), pid: sesame.child.pid },
  { name: 'bare', server: await discoverServer(`${bare.url}/oidc`, credentials), pid: bare.pid },
];
const steps = Object.fromEntries(SIGN_IN_STEPS.map((step) => [step, [] as number[]])) as Record<SignInStep, number[]>;
let n = 0;
const chains = await Promise.all(
  targets.map((target) =>
    Promise.all(
      Array.from({ length: concurrency }, (): Promise<Tokens> =>
        target.name === 'bare' ? formSignIn(target.server) : emailSignIn(target.server, sink, `rc-${(n += 1)}@example.com`, steps),
      ),
    ),
  ),
);

console.log(`server CPU µs per request, ${concurrency} concurrent, A-B-B-A slices of ${secondsArg} s`);
console.log(`${'scenario'.padEnd(14)}${'Sesame'.padStart(9)}${'bare'.padStart(9)}${'extra'.padStart(9)}   req/s Sesame / bare`);
try {
  for (const scenario of scenarios) {
    const totals = targets.map(() => ({ cpuMs: 0, ops: 0, seconds: 0 }));
    for (const [slice, index] of [0, 1, 1, 0].entries()) {
      const target = targets[index]!;
      const result = await runLoad({
        name: `${scenario} on ${target.name}`,
        concurrency,
        seconds: Number(secondsArg),
        // The first slice of each settles the JIT on this endpoint's path first.
        warmupSeconds: slice < 2 ? Number(settleArg) : 0.5,
        op: tokenOp(target.server, scenario, chains[index]!),
        serverPid: target.pid,
      });
      if (result.errors) throw new Error(`${scenario} on ${target.name}: ${result.errors} errors, first: ${result.firstError}`);
      totals[index]!.cpuMs += result.serverCpuMs ?? 0;
      totals[index]!.ops += result.ops;
      totals[index]!.seconds += result.seconds;
    }
    const [mine, theirs] = totals.map((total) => ({ us: (total.cpuMs * 1000) / total.ops, perSecond: total.ops / total.seconds }));
    console.log(
      `${scenario.padEnd(14)}${mine!.us.toFixed(0).padStart(9)}${theirs!.us.toFixed(0).padStart(9)}${(mine!.us - theirs!.us).toFixed(0).padStart(9)}   ${mine!.perSecond.toFixed(0)} / ${theirs!.perSecond.toFixed(0)} = ${(mine!.perSecond / theirs!.perSecond).toFixed(2)}`,
    );
  }
} finally {
  await bare.stop();
  await sesame.child.stop();
  await sink.close();
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
