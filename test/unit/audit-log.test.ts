import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { migrateDatabase, openDatabase } from '../../src/db/open.ts';
import { findAuditLog, listAuditLogs, purgeAuditLogs, recordAudit, sanitizeAuditData, type AuditEvent } from '../../src/audit/log.ts';
import { describePostgres, MIGRATIONS, useTestDatabase } from '../helpers/postgres.ts';

const DAY = 24 * 60 * 60 * 1000;
const T0 = 1_800_000_000_000;

describe('audit log: record, list, find, purge (SQLite)', () => {
  let dir: string;
  let db: Database;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-audit-'));
    db = openSqlite(join(dir, 'a.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  auditLogSuite(() => db);
});

// The same queries on PostgreSQL (its identity column, partial indexes, byte-order prefix range).
describePostgres('audit log: record, list, find, purge (PostgreSQL)', () => {
  const database = useTestDatabase();
  let db: Database;

  beforeAll(async () => {
    const opened = await openDatabase(database.current.config);
    db = opened.db;
    await migrateDatabase(opened, MIGRATIONS.postgres);
  });
  beforeEach(async () => {
    await db.deleteFrom('audit_logs').execute();
  });
  afterAll(async () => {
    await db?.destroy();
  });

  auditLogSuite(() => db);
});

function auditLogSuite(database: () => Database) {
  let db: Database;
  beforeEach(() => {
    db = database();
  });

  const event = (overrides: Partial<AuditEvent> = {}): AuditEvent => ({ type: 'Interaction.SignIn.Submit', result: 'success', ...overrides });

  it('stores every field and reads it back by id', async () => {
    await recordAudit(
      db,
      event({ userId: 'u1', applicationId: 'app1', actor: null, ip: '203.0.113.7', userAgent: 'Mozilla/5.0', data: { email: 'a@example.com', method: 'VerificationCode' } }),
      T0,
    );
    const { rows, total } = await listAuditLogs(db, { page: 1, pageSize: 10 });
    expect(total).toBe(1);
    expect(rows[0]).toEqual({
      id: expect.stringMatching(/^[a-z0-9]{21}$/),
      type: 'Interaction.SignIn.Submit',
      result: 'success',
      userId: 'u1',
      applicationId: 'app1',
      actor: null,
      ip: '203.0.113.7',
      userAgent: 'Mozilla/5.0',
      data: { email: 'a@example.com', method: 'VerificationCode' },
      createdAt: T0,
    });
    expect(await findAuditLog(db, rows[0]!.id)).toEqual(rows[0]);
    expect(await findAuditLog(db, 'nope')).toBeUndefined();
  });

  it('cuts a long user agent and never stores a value under a secret-named key', async () => {
    await recordAudit(
      db,
      event({
        userAgent: 'x'.repeat(5000),
        data: {
          email: 'a@example.com',
          password: 'hunter2hunter2',
          client_secret: 'S3cr3tS3cr3t',
          nested: { refreshToken: 'rt-123456', code: '123456', auth: { user: 'apikey', pass: 'smtp-pass' } },
          tokenEndpointAuthMethod: 'client_secret_basic',
          codeTtlMinutes: 10,
        },
      }),
    );
    const [row] = (await listAuditLogs(db, { page: 1, pageSize: 1 })).rows;
    expect(row!.userAgent).toHaveLength(512);
    expect(row!.data).toEqual({
      email: 'a@example.com',
      password: '[redacted]',
      client_secret: '[redacted]',
      nested: { refreshToken: '[redacted]', code: '[redacted]', auth: { user: 'apikey', pass: '[redacted]' } },
      // Names that only contain such a word are details, kept.
      tokenEndpointAuthMethod: 'client_secret_basic',
      codeTtlMinutes: 10,
    });
    const raw = JSON.stringify(await db.selectFrom('audit_logs').selectAll().execute());
    for (const secret of ['hunter2hunter2', 'S3cr3tS3cr3t', 'rt-123456', '123456', 'smtp-pass']) expect(raw).not.toContain(secret);
  });

  it('bounds data: long strings, depth and odd values', () => {
    const deep = { a: { b: { c: { d: { e: 1 } } } } };
    expect(sanitizeAuditData({ long: 'y'.repeat(3000), deep, when: new Date(0), fn: () => 1, n: 10n })).toEqual({
      long: `${'y'.repeat(1000)}...`,
      deep: { a: { b: { c: '[nested too deep]' } } },
      when: '1970-01-01T00:00:00.000Z',
      n: '10',
    });
    expect(sanitizeAuditData(undefined)).toEqual({});
  });

  it('filters by user, app, type (exact or prefix.*) and time, newest first, with pages and a total', async () => {
    // 12 records a minute apart: users u0/u1/u2 in turn, apps a/b alternating, three types.
    const types = ['Interaction.SignIn.Submit', 'Interaction.SignIn.Verification.EmailVerificationCode.Create', 'SignOut'];
    for (let i = 0; i < 12; i += 1) {
      await recordAudit(db, event({ type: types[i % 3]!, userId: `u${i % 3}`, applicationId: i % 2 ? 'b' : 'a', data: { i } }), T0 + i * 60_000);
    }
    const ids = (rows: { data: Record<string, unknown> }[]) => rows.map((row) => row.data.i);

    const all = await listAuditLogs(db, { page: 1, pageSize: 5 });
    expect(all.total).toBe(12);
    expect(ids(all.rows)).toEqual([11, 10, 9, 8, 7]);
    expect(ids((await listAuditLogs(db, { page: 3, pageSize: 5 })).rows)).toEqual([1, 0]);
    expect((await listAuditLogs(db, { page: 4, pageSize: 5 })).rows).toEqual([]);

    expect(ids((await listAuditLogs(db, { userId: 'u1', page: 1, pageSize: 50 })).rows)).toEqual([10, 7, 4, 1]);
    expect((await listAuditLogs(db, { applicationId: 'b', page: 1, pageSize: 2 })).total).toBe(6);
    expect(ids((await listAuditLogs(db, { type: 'SignOut', page: 1, pageSize: 50 })).rows)).toEqual([11, 8, 5, 2]);
    // A prefix matches every key under it and nothing that merely starts with the same letters.
    await recordAudit(db, event({ type: 'Interaction.SignInX', data: { i: 99 } }), T0);
    expect(ids((await listAuditLogs(db, { type: 'Interaction.SignIn.*', page: 1, pageSize: 50 })).rows)).toEqual([10, 9, 7, 6, 4, 3, 1, 0]);
    expect((await listAuditLogs(db, { type: 'Interaction.SignIn', page: 1, pageSize: 50 })).total).toBe(0);

    // from inclusive, to exclusive.
    const window = await listAuditLogs(db, { from: T0 + 3 * 60_000, to: T0 + 6 * 60_000, page: 1, pageSize: 50 });
    expect(ids(window.rows)).toEqual([5, 4, 3]);
    const combined = await listAuditLogs(db, { userId: 'u0', applicationId: 'a', from: T0 + 60_000, page: 1, pageSize: 50 });
    expect(ids(combined.rows)).toEqual([6]);

    await expect(listAuditLogs(db, { page: 0, pageSize: 5 })).rejects.toThrow(RangeError);
    await expect(listAuditLogs(db, { page: 1, pageSize: 0 })).rejects.toThrow(RangeError);
  });

  it('keeps the write order among records of the same millisecond', async () => {
    for (let i = 0; i < 20; i += 1) await recordAudit(db, event({ data: { i } }), T0);
    const { rows } = await listAuditLogs(db, { page: 1, pageSize: 20 });
    expect(rows.map((row) => row.data.i)).toEqual([...Array(20).keys()].reverse());
  });

  it('writes inside a transaction: rolled back with it', async () => {
    await expect(
      db.transaction().execute(async (tx) => {
        await recordAudit(tx, event({ data: { i: 1 } }));
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    expect((await listAuditLogs(db, { page: 1, pageSize: 5 })).total).toBe(0);
  });

  it('purges only records older than the cutoff, in batches, at most maxRows per call', async () => {
    for (let i = 0; i < 25; i += 1) await recordAudit(db, event({ data: { old: true } }), T0 - 40 * DAY + i);
    for (let i = 0; i < 5; i += 1) await recordAudit(db, event({ data: { old: false } }), T0 - 29 * DAY + i);
    const cutoff = T0 - 30 * DAY;
    // 25 old rows, batches of 10, at most 20 this call: two full batches.
    expect(await purgeAuditLogs(db, cutoff, { batch: 10, maxRows: 20 })).toBe(20);
    expect((await listAuditLogs(db, { page: 1, pageSize: 100 })).total).toBe(10);
    expect(await purgeAuditLogs(db, cutoff, { batch: 10 })).toBe(5);
    const left = await listAuditLogs(db, { page: 1, pageSize: 100 });
    expect(left.total).toBe(5);
    expect(left.rows.every((row) => row.data.old === false && row.createdAt >= cutoff)).toBe(true);
    expect(await purgeAuditLogs(db, cutoff)).toBe(0);
  });
}
