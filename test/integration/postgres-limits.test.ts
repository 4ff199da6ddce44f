import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.ts';
import { migrateDatabase, openDatabase, type OpenDatabase } from '../../src/db/open.ts';
import { databaseRateLimitStore } from '../../src/http/rate-limit-store.ts';
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

  it('the shared HTTP rate-limit store counts every hit once across instances', async () => {
    const stores = dbs().map((db) => new (databaseRateLimitStore(db))());
    const group = stores.map((store) => store.child({ groupId: 'oidc-token' }));
    const hit = (store: (typeof stores)[number], key: string) =>
      new Promise<{ current: number; ttl: number }>((resolve, reject) =>
        store.incr(key, (error, result) => (error || !result ? reject(error ?? new Error('no result')) : resolve(result)), 60_000),
      );
    const counts = await Promise.all(Array.from({ length: 30 }, (_, i) => hit(stores[i % 2]!, '192.0.2.7')));
    expect(counts.map((count) => count.current).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const count of counts) expect(count.ttl).toBeGreaterThan(50_000);
    // A limiter's group counts apart from the global limit, for the same client.
    expect((await hit(group[0]!, '192.0.2.7')).current).toBe(1);
    expect((await hit(group[1]!, '192.0.2.7')).current).toBe(2);
  });
});
