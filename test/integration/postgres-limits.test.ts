import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { migrateDatabase, openDatabase, type OpenDatabase } from '../../src/db/open.ts';
import type { FastifyRateLimitStore } from '@fastify/rate-limit';
import { databaseRateLimitStore, LOCAL_SHARE } from '../../src/http/rate-limit-store.ts';
import { readHits } from '../../src/db/rate-limit-hits.ts';
import { createCodeService, defaultCodePolicy, type CodeService } from '../../src/sign-in/codes.ts';
import { createLockout } from '../../src/sign-in/lockout.ts';
import { createTestDatabase, describePostgres, MIGRATIONS, type TestDatabase } from '../helpers/postgres.ts';

/**
 * Limits that count and then act must hold when several instances act at once. Two connection pools
 * on one PostgreSQL database stand in for two instances (each a Kysely of its own, as each process
 * has); every burst is fired at both together, and the counts must come out exactly as if the
 * requests had come one by one.
 */
describePostgres('PostgreSQL: limits hold under concurrent writers from two instances', () => {
  let target: TestDatabase;
  const instances: OpenDatabase[] = [];
  const dbs = (): Database[] => instances.map((instance) => instance.db);

  beforeAll(async () => {
    target = await createTestDatabase();
    for (let i = 0; i < 2; i += 1) instances.push(await openDatabase(target.config));
    await migrateDatabase(instances[0]!, MIGRATIONS.postgres);
  });
  afterAll(async () => {
    for (const instance of instances) await instance.db.destroy();
    await target?.drop();
  });

  const codeServices = (maxAttempts = 5): CodeService[] =>
    dbs().map((db) =>
      createCodeService({
        db,
        hmacKeys: () => [Buffer.alloc(32, 3)],
        policy: () => ({ ...defaultCodePolicy(10), maxAttempts }),
        sleep: async () => {},
      }),
    );

  it('sends exactly the per-address cap of codes when a burst for one address hits both instances', async () => {
    const services = codeServices();
    const delivered: string[] = [];
    const results = await Promise.all(
      Array.from({ length: 16 }, (_, i) =>
        services[i % 2]!.issue({
          interactionUid: `burst-${i}`,
          purpose: 'sign-in',
          email: 'burst@example.com',
          // Different IPs, so only the per-address cap (5 per 15 minutes) binds.
          ip: `198.51.100.${i + 1}`,
          deliver: async (code) => {
            delivered.push(code);
          },
        }),
      ),
    );
    const sent = results.filter((result) => result.status === 'sent');
    expect(sent).toHaveLength(defaultCodePolicy().perAddress.limit);
    expect(results.filter((result) => result.status === 'rate_limited')).toHaveLength(16 - sent.length);
    expect(delivered).toHaveLength(sent.length);
  });

  it('counts every wrong guess at one code once, however many arrive together', async () => {
    const services = codeServices(5);
    let code = '';
    const issued = await services[0]!.issue({
      interactionUid: 'guessed',
      purpose: 'sign-in',
      email: 'guessed@example.com',
      ip: '203.0.113.9',
      deliver: async (sent) => {
        code = sent;
      },
    });
    expect(issued.status).toBe('sent');
    const wrong = code === '000000' ? '111111' : '000000';
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => services[i % 2]!.verify('guessed', 'sign-in', wrong)));
    const counted = results.filter((result) => result.status === 'wrong');
    // Exactly maxAttempts guesses were checked, each saw one fewer attempt left; the rest were refused unchecked.
    expect(counted.map((result) => (result.status === 'wrong' ? result.attemptsLeft : -1)).sort()).toEqual([0, 1, 2, 3, 4]);
    expect(results.filter((result) => result.status === 'dead')).toHaveLength(7);
    // And the right code no longer works: the guesses used it up.
    expect((await services[1]!.verify('guessed', 'sign-in', code)).status).toBe('dead');
  });

  it('locks an address and IP pair at exactly the threshold when failures arrive together', async () => {
    const lockouts = dbs().map((db) => createLockout(db, Date.now));
    const attempt = { email: 'locked@example.com', ip: '203.0.113.50' };
    const results = await Promise.all(Array.from({ length: 15 }, (_, i) => lockouts[i % 2]!.fail(attempt)));
    // Failures 10 to 15 each see the lock (the 10th sets it): as if they had come one by one.
    expect(results.filter((result) => result.locked)).toHaveLength(6);
    for (const lockout of lockouts) expect((await lockout.check(attempt)).locked).toBe(true);
  });

  /** Two stores over the two instances' databases, as two processes' @fastify/rate-limit would build them. */
  const rateLimitStores = () => dbs().map((db) => databaseRateLimitStore(db));
  const hit = (store: FastifyRateLimitStore, key: string, max: number) =>
    new Promise<{ current: number; ttl: number }>((resolve, reject) =>
      store.incr(key, (error, result) => (error || !result ? reject(error ?? new Error('no result')) : resolve(result)), 60_000, max),
    );

  it('the shared HTTP rate-limit store holds a budget exactly across instances when requests alternate', async () => {
    const classes = rateLimitStores();
    const stores = classes.map((Store) => new Store());
    const MAX = 40;
    const answers: number[] = [];
    for (let i = 0; i < MAX + 6; i += 1) answers.push((await hit(stores[i % 2]!, '192.0.2.7', MAX)).current);
    // Allowed means current <= max: exactly MAX of them, whichever instance each request reached.
    expect(answers.filter((current) => current <= MAX)).toHaveLength(MAX);
    expect(answers.slice(MAX).every((current) => current > MAX)).toBe(true);
    for (const Store of classes) await Store.flush();
    expect((await readHits(dbs()[0]!, 'all:192.0.2.7'))?.hits).toBe(MAX + 6);
  });

  it('the shared HTTP rate-limit store loses no hit and lets at most a small share too many through in a concurrent burst', async () => {
    const classes = rateLimitStores();
    const stores = classes.map((Store) => new Store());
    const MAX = 40;
    const answers = await Promise.all(Array.from({ length: 100 }, (_, i) => hit(stores[i % 2]!, '192.0.2.8', MAX)));
    const allowed = answers.filter((answer) => answer.current <= MAX).length;
    // The budget's bound for two instances: (N - 1) x LOCAL_SHARE of it may be missing from a total.
    expect(allowed).toBeGreaterThanOrEqual(MAX);
    expect(allowed).toBeLessThanOrEqual(MAX + Math.floor(MAX * LOCAL_SHARE));
    for (const answer of answers) expect(answer.ttl).toBeGreaterThan(50_000);
    for (const Store of classes) await Store.flush();
    // Every hit was counted once, the ones answered from a process's own count included.
    expect((await readHits(dbs()[0]!, 'all:192.0.2.8'))?.hits).toBe(100);
  });

  it('the shared HTTP rate-limit store counts a limiter group apart from the global limit', async () => {
    const classes = rateLimitStores();
    const group = classes.map((Store) => new Store().child({ groupId: 'oidc-token' } as never));
    expect((await hit(group[0]!, '192.0.2.9', 1)).current).toBe(1);
    expect((await hit(group[1]!, '192.0.2.9', 1)).current).toBe(2);
    expect(await readHits(dbs()[0]!, 'all:192.0.2.9')).toBeUndefined();
  });
});
