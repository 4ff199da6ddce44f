import { describe, expect, it } from 'vitest';
import { QUICK, runBench, TOKEN_SCENARIOS, type Operations } from '../../bench/bench.ts';
import { DATABASE_TOKEN_SCENARIOS, SETUPS } from '../../bench/lib/databases.ts';
import { runLoad, sleep } from '../../bench/lib/load.ts';
import { TEST_DATABASE_URL } from '../helpers/postgres.ts';

// Keeps `npm run bench` from rotting: a tiny run end to end, checking the shape of the figures only.
// Speed targets live in the bench itself, never in assertions here. It counts operations rather than
// timing them, so a busy machine makes it slower, never empty: a 0.5 s window could close before the
// first sign-in had finished ("no sign-in completed").
const OPERATIONS: Operations = { signIns: 3, tokens: 5, deadlineSeconds: 60 };

describe('bench smoke run', () => {
  it('runs every scenario against Sesame and bare oidc-provider and reports every figure', { timeout: 300_000 }, async () => {
    // PostgreSQL: TEST_DATABASE_URL's server when set (then it must run), else the bench's default
    // (BENCH_DATABASE_URL or 127.0.0.1:5432), whose scenarios are skipped when nothing answers there.
    const results = await runBench({
      ...QUICK,
      concurrency: 2,
      warmup: 0,
      settle: 0,
      memorySignIns: 8,
      operations: OPERATIONS,
      postgres: TEST_DATABASE_URL,
      log: () => undefined,
    });

    expect(Object.keys(results).sort()).toEqual(['ceiling', 'databases', 'growth', 'memory', 'meta', 'signIn', 'startup', 'targets', 'tokens', 'workers']);
    expect(results.meta.operations).toEqual(OPERATIONS);
    expect(results.signIn.signIns).toBe(OPERATIONS.signIns);
    expect(results.signIn.errors).toBe(0);
    expect(results.signIn.newUsers + results.signIn.returningUsers).toBe(OPERATIONS.signIns);
    for (const step of Object.values(results.signIn.steps)) expect(step.count).toBe(OPERATIONS.signIns);
    expect(Object.keys(results.signIn.steps)).toEqual(['authorize', 'emailPage', 'sendCode', 'mailArrives', 'submitCode', 'tokenExchange']);
    expect(results.signIn.flow).toMatchObject({ count: OPERATIONS.signIns, p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) });
    for (const scenario of TOKEN_SCENARIOS) {
      const figures = results.tokens[scenario];
      expect(figures.sesame.perSecond, scenario).toBeGreaterThan(0);
      expect(figures.bare.perSecond, scenario).toBeGreaterThan(0);
      expect(figures.sesame.errors, scenario).toBe(0);
      expect(figures.bare.errors, scenario).toBe(0);
      expect(figures.ratio, scenario).toEqual(expect.any(Number));
    }
    // The ceiling: Sesame's email-code sign-in and bare oidc-provider's one-form sign-in, two slices each.
    const { ceiling } = results;
    for (const [name, flow] of [['Sesame', ceiling.sesame], ['bare', ceiling.bare]] as const) {
      expect(flow.signIns, name).toBe(2 * OPERATIONS.signIns);
      expect(flow.errors, name).toBe(0);
      expect(flow.perSecond, name).toBeGreaterThan(0);
      expect(flow.clientCpuMsPerSignIn, name).toBeGreaterThan(0);
    }
    expect(ceiling.sesame.cpuMsPerSignIn).toBeGreaterThan(0);
    // /proc counts CPU in 10 ms ticks: 6 bare sign-ins of a few ms each may read as none.
    expect(ceiling.bare.cpuMsPerSignIn).toBeGreaterThanOrEqual(0);
    // authorize, page, one form post, back through /oidc/auth/:uid, token; Sesame adds the code step.
    expect(ceiling.bare.requestsPerSignIn).toBe(5);
    expect(ceiling.sesame.requestsPerSignIn).toBeGreaterThan(ceiling.bare.requestsPerSignIn);
    expect(ceiling.ratios.perSecond).toBeGreaterThan(0);
    expect(ceiling.ratios.cpuMsPerSignIn).toBeGreaterThanOrEqual(0);
    expect(ceiling.mail.renderAndSendMs).toBeGreaterThan(0);
    expect(ceiling.mail.renderMs).toBeGreaterThan(0);
    expect(ceiling.statementsPerSignIn.perSignIn).toBeGreaterThan(0);
    expect(ceiling.cpuBudgetMs).toBeCloseTo(1.5 * ceiling.bare.cpuMsPerSignIn + ceiling.mail.renderAndSendMs, 1);
    // WORKERS 1 and 2 on SQLite: primary and workers counted, idle RSS per worker.
    expect(results.workers.settings.map((setting) => setting.workers)).toEqual(QUICK.workers);
    for (const setting of results.workers.settings) {
      expect(setting.signIns, `WORKERS=${setting.workers}`).toBe(2 * OPERATIONS.signIns);
      expect(setting.errors, `WORKERS=${setting.workers}`).toBe(0);
      expect(setting.perSecond, `WORKERS=${setting.workers}`).toBeGreaterThan(0);
      expect(setting.cpuMsPerSignIn, `WORKERS=${setting.workers}`).toBeGreaterThan(0);
      expect(setting.idleRssMb.perWorker, `WORKERS=${setting.workers}`).toBeGreaterThan(0);
      expect(setting.idleRssMb.primary === undefined, `WORKERS=${setting.workers}`).toBe(setting.workers === 1);
    }
    expect(QUICK.workers).toContain(results.workers.best.workers);
    expect(results.targets.map((target) => target.name)).toEqual(
      expect.arrayContaining([`sign-ins/s, best WORKERS (${results.workers.best.workers})`, 'CPU/sign-in vs bare + mail', 'refresh vs bare', 'userinfo vs bare']),
    );
    expect(results.memory).toMatchObject({
      idleRssMb: expect.any(Number),
      afterSignInsRssMb: expect.any(Number),
      afterRefreshTokensRssMb: expect.any(Number),
    });
    expect(results.memory.signIns).toBeGreaterThanOrEqual(8);
    expect(results.memory.storedRefreshTokens).toBeGreaterThanOrEqual(QUICK.storedRefreshTokens);
    expect(results.startup.readyMs).toBeGreaterThan(0);
    expect(results.startup.dev.readyMs).toBeGreaterThan(0);
    expect(results.growth.large.users).toBe(QUICK.growthUsers);
    expect(results.growth.small.perSecond).toBeGreaterThan(0);
    expect(results.growth.large.perSecond).toBeGreaterThan(0);
    expect(results.growth.dbBytesPerUser).toBeGreaterThan(0);
    const { databases } = results;
    if (TEST_DATABASE_URL) expect(databases).not.toHaveProperty('skipped');
    if ('skipped' in databases) {
      expect(databases.skipped).toMatch(/PostgreSQL/);
      expect(results.targets).toHaveLength(8);
    } else {
      for (const setup of SETUPS) {
        // Two slices per setup, each counting OPERATIONS.signIns.
        expect(databases.signIn[setup].signIns, setup).toBe(2 * OPERATIONS.signIns);
        expect(databases.signIn[setup].errors, setup).toBe(0);
        expect(databases.signIn[setup].sesameCpuMs, setup).toEqual(expect.any(Number));
        for (const scenario of DATABASE_TOKEN_SCENARIOS) {
          expect(databases.tokens[scenario][setup].perSecond, `${scenario} on ${setup}`).toBeGreaterThan(0);
          expect(databases.tokens[scenario][setup].errors, `${scenario} on ${setup}`).toBe(0);
        }
      }
      expect(databases.signIn.postgres.postgresCpuMs).toEqual(expect.any(Number));
      expect(databases.signIn.postgresTwo.proxyCpuMs).toEqual(expect.any(Number));
      expect(databases.ratios.signIn).toEqual({ postgresVsSqlite: expect.any(Number), twoVsOne: expect.any(Number), proxyVsDirect: expect.any(Number) });
      expect(results.targets.map((target) => target.name)).toContain('PostgreSQL vs SQLite sign-ins');
      expect(results.targets).toHaveLength(9);
    }
  });
});

describe('bench load loop counting operations', () => {
  // Stands in for a sign-in on a busy machine: each operation takes longer than a short timed window.
  const slowOp = () => sleep(300);

  it('measures exactly the operations asked for, however long each takes', async () => {
    let started = 0;
    const counted: number[] = [];
    const op = async () => {
      const n = (started += 1);
      await slowOp();
      return n;
    };
    const result = await runLoad({ name: 'slow ops', concurrency: 2, operations: 3, seconds: 20, warmupSeconds: 0, op, onCounted: (n) => counted.push(n) });
    expect(result.ops).toBe(3);
    // The 4th operation, in flight when the 3rd completed, finishes but is not counted.
    expect(counted).toEqual([1, 2, 3]);
    expect(started).toBe(4);
    expect(result.latencies).toHaveLength(3);
    expect(result.errors).toBe(0);
    expect(result.seconds).toBeGreaterThanOrEqual(0.5);
    expect(result.perSecond).toBeGreaterThan(0);
  });

  it('fails past its deadline with a message naming the scenario and what happened', async () => {
    await expect(runLoad({ name: 'sign-ins', concurrency: 2, operations: 3, seconds: 0.1, warmupSeconds: 0, op: slowOp })).rejects.toThrow(
      'sign-ins: 0 of 3 operations completed, deadline of 0.1 s passed (0 errors; no operation failed, they were too slow)',
    );
    let calls = 0;
    const failing = async () => {
      calls += 1;
      await sleep(20);
      throw new Error(`userinfo answered 500 (call ${calls})`);
    };
    await expect(runLoad({ name: 'userinfo on Sesame', concurrency: 1, operations: 5, seconds: 0.2, warmupSeconds: 0, op: failing })).rejects.toThrow(
      /^userinfo on Sesame: 0 of 5 operations completed, deadline of 0\.2 s passed \(\d+ errors; first error: userinfo answered 500 \(call 1\)\)$/,
    );
  });
});
