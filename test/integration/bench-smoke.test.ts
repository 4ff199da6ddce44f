import { describe, expect, it } from 'vitest';
import { QUICK, runBench, TOKEN_SCENARIOS } from '../../bench/bench.ts';

// Keeps `npm run bench` from rotting: a tiny run end to end, checking the shape of the figures only.
// Speed targets live in the bench itself, never in assertions here.
describe('bench smoke run', () => {
  it('runs every scenario against Sesame and bare oidc-provider and reports every figure', { timeout: 180_000 }, async () => {
    const results = await runBench({ ...QUICK, concurrency: 2, duration: 0.5, warmup: 0.2, log: () => undefined });

    expect(Object.keys(results).sort()).toEqual(['growth', 'memory', 'meta', 'signIn', 'startup', 'targets', 'tokens']);
    expect(results.signIn.signIns).toBeGreaterThan(0);
    expect(results.signIn.errors).toBe(0);
    expect(Object.keys(results.signIn.steps)).toEqual(['authorize', 'emailPage', 'sendCode', 'mailArrives', 'submitCode', 'tokenExchange']);
    expect(results.signIn.flow).toMatchObject({ p50: expect.any(Number), p95: expect.any(Number), p99: expect.any(Number) });
    for (const scenario of TOKEN_SCENARIOS) {
      const figures = results.tokens[scenario];
      expect(figures.sesame.perSecond, scenario).toBeGreaterThan(0);
      expect(figures.bare.perSecond, scenario).toBeGreaterThan(0);
      expect(figures.sesame.errors, scenario).toBe(0);
      expect(figures.bare.errors, scenario).toBe(0);
      expect(figures.ratio, scenario).toEqual(expect.any(Number));
    }
    expect(results.memory).toMatchObject({
      idleRssMb: expect.any(Number),
      afterSignInsRssMb: expect.any(Number),
      afterRefreshTokensRssMb: expect.any(Number),
    });
    expect(results.memory.storedRefreshTokens).toBeGreaterThanOrEqual(QUICK.storedRefreshTokens);
    expect(results.startup.readyMs).toBeGreaterThan(0);
    expect(results.startup.dev.readyMs).toBeGreaterThan(0);
    expect(results.growth.large.users).toBe(QUICK.growthUsers);
    expect(results.growth.dbBytesPerUser).toBeGreaterThan(0);
    expect(results.targets.map((target) => target.name)).toHaveLength(6);
  });
});
