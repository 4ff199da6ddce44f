import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runLoad } from './lib/load.ts';
import { startMailSink } from './lib/mail-sink.ts';
import { discoverServer, emailSignIn, formSignIn, SIGN_IN_STEPS } from './lib/oidc.ts';
import { freePort, startChild } from './lib/processes.ts';
import { signingJwks } from './lib/seed.ts';
import { REDIRECT_URI, registerBenchApp, startSesameProcess } from './lib/sesame.ts';
const dir = mkdtempSync('/tmp/t-');
const sink = await startMailSink();
let s = await startSesameProcess({ dir, smtpPort: sink.port });
const client = await registerBenchApp(s.databaseUrl);
await s.child.stop();
s = await startSesameProcess({ dir, smtpPort: sink.port });
const jwksFile = join(dir, 'jwks.json');
writeFileSync(jwksFile, JSON.stringify(signingJwks(s.databaseFile)));
const port = await freePort();
const bare = await startChild({ script: 'bench/bare-provider.ts', port, probePath: '/health', env: { PORT: String(port), JWKS_FILE: jwksFile, CLIENT_ID: client.id, CLIENT_SECRET: client.secret, REDIRECT_URI, NODE_ENV: 'production' } });
const threads = (pid: number) => new Map(readdirSync(`/proc/${pid}/task`).map((t) => { const f = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8').split(') ')[1]!.split(' '); return [t, Number(f[11]) + Number(f[12])]; }));
const steps = Object.fromEntries(SIGN_IN_STEPS.map((x) => [x, [] as number[]])) as never;
let n = 0;
for (const [name, pid, op] of [
  ['Sesame', s.child.pid, async (server: any) => emailSignIn(server, sink, `t${(n += 1)}@example.com`, steps)],
  ['bare', bare.pid, async (server: any) => formSignIn(server)],
] as const) {
  const server = await discoverServer(name === 'bare' ? `${bare.url}/oidc` : s.issuer, { ...client, redirectUri: REDIRECT_URI });
  let before = new Map<string, number>();
  const r = await runLoad({ concurrency: 32, seconds: 8, warmupSeconds: Number(process.env.WARM ?? 2), op: () => op(server), serverPid: pid, onMeasure: () => (before = threads(pid)) });
  const after = threads(pid);
  const rows = [...after].map(([t, v]) => [t, (v - (before.get(t) ?? 0)) * 10 / r.ops] as const).filter(([, v]) => v > 0);
  console.log(name, r.ops, 'sign-ins;', 'ms per sign-in by thread:', rows.map(([t, v]) => `${t === String(pid) ? 'main' : t}=${v.toFixed(2)}`).join(' '), 'total', rows.reduce((a, [, v]) => a + v, 0).toFixed(2));
}
await bare.stop(); await s.child.stop(); await sink.close(); process.exit(0);
