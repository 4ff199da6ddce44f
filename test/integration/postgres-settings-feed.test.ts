import { afterAll, beforeAll, expect, it } from 'vitest';
import { migrateDatabase, openDatabase, type OpenDatabase } from '../../src/db/open.ts';
import { loadExperience, saveExperience } from '../../src/sign-in/experience.ts';
import { followSettingsFeed } from '../../src/db/settings.ts';
import { followSettingsChanges } from '../../src/db/settings-feed.ts';
import { createTestDatabase, describePostgres, MIGRATIONS, type TestDatabase } from '../helpers/postgres.ts';

/** The settings caches' version is read at most once per event-loop turn: let a turn pass. */
const nextTurn = () => new Promise((done) => setImmediate(done));
const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));

/** Waits until `check` holds (a change reaching another instance), up to `ms`. */
async function eventually(check: () => Promise<boolean>, ms = 3_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('the change did not arrive in time');
    await sleep(20);
  }
}

/**
 * On PostgreSQL the server follows settings changes with LISTEN/NOTIFY instead of reading the version
 * row on every request: two instances (two pools on one database), one following the feed as the
 * server does, the other making changes as the CLI or another instance would.
 */
describePostgres('PostgreSQL: the settings feed', () => {
  let target: TestDatabase;
  let server: OpenDatabase;
  let other: OpenDatabase;
  /** Connections the server's pool hands out: every statement outside a transaction takes one. */
  let checkouts = 0;

  beforeAll(async () => {
    target = await createTestDatabase();
    other = await openDatabase(target.config);
    await migrateDatabase(other, MIGRATIONS.postgres);
    server = await openDatabase(target.config, { followSettings: true });
    const connect = server.pool!.connect.bind(server.pool!);
    server.pool!.connect = (() => {
      checkouts += 1;
      return connect();
    }) as typeof connect;
  });
  afterAll(async () => {
    await server?.db.destroy();
    await other?.db.destroy();
    await target?.drop();
  });

  it('reads nothing to learn that the settings did not change', async () => {
    const first = await loadExperience(server.db, 10);
    await nextTurn();
    checkouts = 0;
    for (let i = 0; i < 5; i += 1) {
      expect(await loadExperience(server.db, 10)).toBe(first);
      await nextTurn();
    }
    expect(checkouts).toBe(0);
  });

  it("applies another instance's change as soon as its notice arrives", async () => {
    expect((await loadExperience(server.db, 10)).verificationCode.ttlMinutes).toBe(10);
    await saveExperience(other.db, { verificationCode: { ttlMinutes: 7 } }, Date.now(), 10);
    await eventually(async () => (await loadExperience(server.db, 10)).verificationCode.ttlMinutes === 7);
  });

  it("applies the server's own change at once, before its notice comes back", async () => {
    await saveExperience(server.db, { verificationCode: { ttlMinutes: 9 } }, Date.now(), 10);
    expect((await loadExperience(server.db, 10)).verificationCode.ttlMinutes).toBe(9);
  });

  it('reads the version row while the feed is down, and follows again once it is back', async () => {
    // Cut the feed's connection from the server side, as a PostgreSQL restart or a network fault would.
    const { rowCount } = await target
      .pool()
      .query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE '%(settings feed)'");
    expect(rowCount).toBe(1);
    await sleep(100);
    await saveExperience(other.db, { verificationCode: { ttlMinutes: 5 } }, Date.now(), 10);
    await nextTurn();
    // No notice can arrive now: the change is found by reading the version.
    expect((await loadExperience(server.db, 10)).verificationCode.ttlMinutes).toBe(5);
    // The feed reconnects within a second or so; then reads stop again and changes still arrive.
    await eventually(async () => {
      await nextTurn();
      checkouts = 0;
      await loadExperience(server.db, 10);
      return checkouts === 0;
    });
    await saveExperience(other.db, { verificationCode: { ttlMinutes: 6 } }, Date.now(), 10);
    await eventually(async () => (await loadExperience(server.db, 10)).verificationCode.ttlMinutes === 6);
  });

  it('notices when changes stop being announced (a pooler in transaction mode), and still applies them within the cross-check', async () => {
    const feedDb = await openDatabase(target.config);
    let missing = 0;
    const feed = await followSettingsChanges(target.config, { crossCheckMs: 200, onMissedNotice: () => (missing += 1) });
    followSettingsFeed(feedDb.db, feed);
    try {
      await saveExperience(other.db, { verificationCode: { ttlMinutes: 3 } }, Date.now(), 10);
      await eventually(async () => (await loadExperience(feedDb.db, 10)).verificationCode.ttlMinutes === 3);
      // Changes that bump the version without the notice, as through a pooler that drops it.
      const silently = async (ttlMinutes: number) => {
        await target.pool().query(
          "UPDATE settings SET value = $1 WHERE key = 'sign_in_experience'",
          [JSON.stringify({ verificationCode: { ttlMinutes } })],
        );
        await target.pool().query("UPDATE settings SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT) WHERE key = 'settings.version'");
      };
      // Each change in a cross-check interval of its own (two in one interval are one miss).
      const nextCheck = () => sleep(400);
      await nextCheck();
      await silently(4);
      await eventually(async () => (await loadExperience(feedDb.db, 10)).verificationCode.ttlMinutes === 4);
      expect(missing).toBe(0);
      await nextCheck();
      await silently(8);
      await eventually(async () => (await loadExperience(feedDb.db, 10)).verificationCode.ttlMinutes === 8);
      await eventually(async () => missing === 1);
    } finally {
      await feed.close();
      await feedDb.db.destroy();
    }
  });
});
