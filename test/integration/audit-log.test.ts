import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { sesameCli } from '../helpers/cli.ts';
import { startSesameWithMail, startTestSesame, tempDir, type TestSesame, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import type { Application } from '../../src/db/applications.ts';
import { findUserByEmail, setPasswordHash } from '../../src/db/users.ts';
import { saveExperience } from '../../src/sign-in/experience.ts';
import { createPasswordHasher } from '../../src/sign-in/passwords.ts';
import { createApplication, setManagementAccess } from '../../src/management/applications.ts';
import { CLI } from '../../src/management/audit.ts';
import { listAuditLogs, recordAudit, type AuditRecord } from '../../src/audit/log.ts';
import { databaseConfig, type SqliteDatabaseConfig } from '../../src/config/database.ts';
import { migrateDatabase, openDatabase } from '../../src/db/open.ts';
import { copySqliteToPostgres } from '../../src/db/copy.ts';
import { describePostgres, MIGRATIONS, useTestDatabase } from '../helpers/postgres.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const UA = 'AuditTest/1.0 (like Gecko)';
const PASSWORD = 'correct horse battery staple';

describe('audit log: what a real sign-in, sign-up, lockout, recovery and sign-out record', () => {
  let sesame: TestSesameWithMail;
  let app: Application;
  let config: client.Configuration;
  let counter = 0;
  /** Every secret value the tests see go over the wire: none may end up in the audit log. */
  const secrets = new Set<string>();

  beforeAll(async () => {
    // TRUST_PROXY=1: the recorded IP is the client address X-Forwarded-For names, as rate limits see it.
    sesame = await startSesameWithMail({ env: { TRUST_PROXY: '1' } });
    app = await sesame.registerApp();
    secrets.add(app.secret);
    config = await discover(sesame.issuer, app);
  });
  afterAll(() => sesame?.stop());

  const uniqueEmail = (name: string) => `${name}${++counter}.${Date.now()}@example.com`;
  const browserAt = (ip: string) => new HttpBrowser({ 'user-agent': UA, 'x-forwarded-for': ip });

  /** The records about `email` (by data.email), oldest first. */
  async function recordsFor(email: string): Promise<AuditRecord[]> {
    const { rows } = await listAuditLogs(sesame.db, { page: 1, pageSize: 1000 });
    return rows.filter((row) => row.data.email === email).reverse();
  }

  const codesMailedTo = (email: string) => sesame.smtp.messages(email).flatMap((mail) => /\b\d{6}\b/.exec(mail.text) ?? []);

  async function openSignIn(browser: HttpBrowser) {
    const start = await startAuthorization(config, REDIRECT);
    const page = await browser.follow(start.url);
    expect(page.status).toBe(200);
    const uid = /\/interaction\/([^/"?]+)/.exec(page.url)![1]!;
    return { start, page, uid };
  }

  async function requestCode(browser: HttpBrowser, page: PageResponse, email: string, action = '/email') {
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(page, action, { email });
    expect(codePage.status, codePage.body.slice(0, 300)).toBe(200);
    const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
    secrets.add(code);
    return { codePage, code };
  }

  /** A six-digit guess that is not `code`. */
  const wrong = (code: string, n = 0) => String((Number(code) + 1 + n) % 1_000_000).padStart(6, '0');

  it('records a code sign-up and a code sign-in in order, with IP, user agent and app, and no secret anywhere', async () => {
    const email = uniqueEmail('audit');
    const first = await startAuthorization(config, REDIRECT);
    const { callback } = await signInWithEmail(browserAt('203.0.113.50'), sesame.smtp, first, email, REDIRECT);
    const tokens = await exchange(config, callback, first);
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    const second = await startAuthorization(config, REDIRECT);
    const again = await signInWithEmail(browserAt('203.0.113.51'), sesame.smtp, second, email, REDIRECT);
    const tokens2 = await exchange(config, again.callback, second);
    const sub = tokens.claims()!.sub;
    for (const value of [...codesMailedTo(email), new URL(callback).searchParams.get('code')!, new URL(again.callback).searchParams.get('code')!]) secrets.add(value);
    for (const set of [tokens, refreshed, tokens2]) for (const value of [set.access_token, set.refresh_token, set.id_token]) if (value) secrets.add(value);

    const records = await recordsFor(email);
    expect(records.map((record) => [record.type, record.result, record.userId])).toEqual([
      ['Interaction.Register.Verification.EmailVerificationCode.Create', 'success', null],
      ['Interaction.Register.Submit', 'success', sub],
      ['Interaction.SignIn.Verification.EmailVerificationCode.Create', 'success', sub],
      ['Interaction.SignIn.Submit', 'success', sub],
    ]);
    expect(records.map((record) => record.ip)).toEqual(['203.0.113.50', '203.0.113.50', '203.0.113.51', '203.0.113.51']);
    for (const record of records) {
      expect(record).toMatchObject({ applicationId: app.id, userAgent: UA, actor: null });
      expect(record.createdAt).toBeGreaterThan(Date.now() - 60_000);
    }
    expect(records[1]!.data).toEqual({ email, method: 'VerificationCode', passwordSet: false });
    expect(records[3]!.data).toEqual({ email, method: 'VerificationCode' });
    // Exchanging the code and refreshing are not recorded (the hot path of every app).
    expect((await listAuditLogs(sesame.db, { type: 'ExchangeTokenBy.*', page: 1, pageSize: 10 })).total).toBe(0);
  });

  it('records a wrong code as a failure with the tries left, then the sign-in', async () => {
    const email = uniqueEmail('wrong');
    await signInWithEmail(browserAt('203.0.113.60'), sesame.smtp, await startAuthorization(config, REDIRECT), email, REDIRECT);
    const userId = (await findUserByEmail(sesame.db, email))!.id;
    const browser = browserAt('203.0.113.61');
    const { page } = await openSignIn(browser);
    const { codePage, code } = await requestCode(browser, page, email);
    const refused = await browser.submit(codePage, '/code', { code: wrong(code) });
    expect(refused.status).toBe(400);
    const done = await browser.submit(refused, '/code', { code }, REDIRECT);
    expect(done.location).toContain(REDIRECT);

    const records = (await recordsFor(email)).slice(2);
    expect(records.map((record) => [record.type, record.result, record.userId])).toEqual([
      ['Interaction.SignIn.Verification.EmailVerificationCode.Create', 'success', userId],
      ['Interaction.SignIn.Verification.EmailVerificationCode.Submit', 'failure', userId],
      ['Interaction.SignIn.Submit', 'success', userId],
    ]);
    expect(records[1]!.data).toEqual({ email, reason: 'wrong', attemptsLeft: 4 });
    expect(records[1]).toMatchObject({ ip: '203.0.113.61', userAgent: UA, applicationId: app.id });
  });

  it('records the lockout a tenth wrong code causes, and the guess it then refuses', async () => {
    const email = uniqueEmail('locked');
    const browser = browserAt('203.0.113.70');
    // Two codes (a code dies after 5 wrong tries), 5 wrong guesses each: the 10th locks the pair.
    let last: PageResponse | undefined;
    let withForm: PageResponse | undefined;
    for (let round = 0; round < 2; round += 1) {
      const { page } = await openSignIn(browser);
      const { codePage, code } = await requestCode(browser, page, email);
      last = codePage;
      for (let guess = 0; guess < 5; guess += 1) {
        withForm = last;
        last = await browser.submit(last, '/code', { code: wrong(code, guess) });
      }
    }
    expect(last!.status).toBe(429);
    // The used-up code's page has no form any more: post the one before it again.
    const blocked = await browser.submit(withForm!, '/code', { code: '123456' });
    expect(blocked.status).toBe(429);

    const records = await recordsFor(email);
    const summary = records.map((record) => `${record.type} ${record.result} ${String(record.data.reason ?? '')}`.trim());
    const create = 'Interaction.Register.Verification.EmailVerificationCode.Create success';
    const wrongGuess = 'Interaction.Register.Verification.EmailVerificationCode.Submit failure wrong';
    expect(summary).toEqual([
      create,
      ...Array(5).fill(wrongGuess),
      create,
      ...Array(5).fill(wrongGuess),
      'Interaction.Lockout failure',
      'Interaction.Register.Verification.EmailVerificationCode.Submit failure locked',
    ]);
    expect(records.map((record) => record.data.attemptsLeft).slice(1, 6)).toEqual([4, 3, 2, 1, 0]);
    expect(records[12]!.data).toEqual({ email, event: 'Register', method: 'VerificationCode', scope: 'pair', retryAfterSeconds: 900 });
    expect(records[13]!.data).toMatchObject({ scope: 'pair' });
    // No account has this address: the records carry it, and no user.
    expect(records.every((record) => record.userId === null && record.ip === '203.0.113.70')).toBe(true);
  });

  it('records password sign-ins, wrong passwords, a password lockout and a recovery by code', async () => {
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'] }, Date.now());
    try {
      const email = uniqueEmail('pw');
      await signInWithEmail(browserAt('203.0.113.80'), sesame.smtp, await startAuthorization(config, REDIRECT), email, REDIRECT);
      const user = (await findUserByEmail(sesame.db, email))!;
      await setPasswordHash(sesame.db, user.id, await createPasswordHasher().hash(PASSWORD), Date.now());
      secrets.add(PASSWORD);

      const passwordSignIn = async (browser: HttpBrowser, password: string) => {
        const { uid } = await openSignIn(browser);
        const page = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/password`);
        return browser.submit(page, '/password', { email, password }, REDIRECT);
      };
      expect((await passwordSignIn(browserAt('203.0.113.81'), PASSWORD)).location).toContain(REDIRECT);
      const attacker = browserAt('198.51.100.9');
      for (let i = 0; i < 10; i += 1) {
        secrets.add(`wrong password ${i}`);
        const refused = await passwordSignIn(attacker, `wrong password ${i}`);
        expect(refused.status).toBe(i < 9 ? 400 : 429);
      }
      expect((await passwordSignIn(attacker, PASSWORD)).status).toBe(429);

      // Recovery, from the person's own browser: code, new password, signed in.
      const owner = browserAt('203.0.113.82');
      const { uid } = await openSignIn(owner);
      const forgot = await owner.follow(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
      const { codePage, code } = await requestCode(owner, forgot, email, '/forgot');
      const reset = await owner.submit(codePage, '/forgot/code', { code });
      secrets.add('a brand new passphrase');
      const done = await owner.submit(reset, '/reset-password', { password: 'a brand new passphrase' }, REDIRECT);
      expect(done.location).toContain(REDIRECT);
      for (const value of codesMailedTo(email)) secrets.add(value);

      const records = (await recordsFor(email)).slice(2);
      expect(records.map((record) => [record.type, record.result, record.userId, record.ip, record.data.method ?? record.data.reason ?? null])).toEqual([
        ['Interaction.SignIn.Submit', 'success', user.id, '203.0.113.81', 'Password'],
        ...Array(10).fill(['Interaction.SignIn.Verification.Password.Submit', 'failure', user.id, '198.51.100.9', 'wrong']),
        ['Interaction.Lockout', 'failure', user.id, '198.51.100.9', 'Password'],
        ['Interaction.SignIn.Verification.Password.Submit', 'failure', user.id, '198.51.100.9', 'locked'],
        ['Interaction.ForgotPassword.Verification.EmailVerificationCode.Create', 'success', user.id, '203.0.113.82', null],
        ['Interaction.ForgotPassword.Submit', 'success', user.id, '203.0.113.82', null],
        ['Interaction.SignIn.Submit', 'success', user.id, '203.0.113.82', 'ForgotPassword'],
      ]);
      expect(records[11]!.data).toEqual({ email, event: 'SignIn', method: 'Password', scope: 'pair', retryAfterSeconds: 900 });
      expect(records[14]!.data).toEqual({ email, passwordChanged: true, otherSessionsEnded: true });
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'] }, Date.now());
    }
  });

  it('records a code asked for an address that gets none (recovery of an unknown address) as a failure', async () => {
    await saveExperience(sesame.db, { signInMethods: ['verificationCode', 'password'] }, Date.now());
    try {
      const email = uniqueEmail('stranger');
      const browser = browserAt('203.0.113.90');
      const { uid } = await openSignIn(browser);
      const forgot = await browser.follow(`${sesame.config.endpoint}/interaction/${uid}/forgot`);
      expect((await browser.submit(forgot, '/forgot', { email })).status).toBe(200);
      expect(await recordsFor(email)).toMatchObject([
        { type: 'Interaction.ForgotPassword.Verification.EmailVerificationCode.Create', result: 'failure', userId: null, data: { email, reason: 'no_account' } },
      ]);
    } finally {
      await saveExperience(sesame.db, { signInMethods: ['verificationCode'] }, Date.now());
    }
  });

  it('records a sign-out with the account and the app', async () => {
    const email = uniqueEmail('bye');
    const browser = browserAt('203.0.113.100');
    await signInWithEmail(browser, sesame.smtp, await startAuthorization(config, REDIRECT), email, REDIRECT);
    const userId = (await findUserByEmail(sesame.db, email))!.id;
    const endSession = new URL(config.serverMetadata().end_session_endpoint!);
    endSession.searchParams.set('client_id', app.id);
    endSession.searchParams.set('post_logout_redirect_uri', 'http://127.0.0.1:9/');
    const logoutPage = await browser.follow(endSession.toString());
    const back = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' }, 'http://127.0.0.1:9/');
    expect(back.location).toBe('http://127.0.0.1:9/');
    // oidc-provider reports the sign-out as an event; the record is written right after the answer.
    await vi.waitFor(async () => {
      const { rows } = await listAuditLogs(sesame.db, { userId, type: 'SignOut', page: 1, pageSize: 5 });
      expect(rows).toMatchObject([{ result: 'success', applicationId: app.id, ip: '203.0.113.100', userAgent: UA, data: { everywhere: true } }]);
    });
  });

  it('keeps no code, password, secret or token in any column', async () => {
    const rows = await sesame.db.selectFrom('audit_logs').selectAll().execute();
    expect(rows.length).toBeGreaterThan(40);
    // Every text column (the numeric seq and created_at could hold six digits in a row by chance).
    const text = JSON.stringify(rows.map(({ seq: _seq, created_at: _createdAt, ...columns }) => columns));
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets) expect(text.includes(secret), `a secret of ${secret.length} characters is in the audit log`).toBe(false);
  });

  describe('sesame logs', () => {
    let email: string;
    let userId: string;
    const cli = (...args: string[]) => sesameCli(['logs', ...args], { cwd: sesame.dir, database: sesame.databaseUrl });

    beforeAll(async () => {
      email = uniqueEmail('cli');
      await signInWithEmail(browserAt('203.0.113.110'), sesame.smtp, await startAuthorization(config, REDIRECT), email, REDIRECT);
      userId = (await findUserByEmail(sesame.db, email))!.id;
    });

    it('prints a user’s records as a table, newest first, by email or ID', async () => {
      const byEmail = await cli('--user', email);
      expect(byEmail.stderr).toBe('');
      expect(byEmail.code).toBe(0);
      const lines = byEmail.stdout.trim().split('\n');
      expect(lines[0]).toMatch(/^TIME\s+RESULT\s+TYPE\s+USER\s+APP\s+ACTOR\s+IP\s+DETAILS$/);
      expect(lines[1]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\s+success\\s+Interaction\\.Register\\.Submit\\s+${userId}\\s+${app.id}\\s+-\\s+203\\.0\\.113\\.110\\s+\\{"email":"${email.replace(/\./g, '\\.')}"`));
      expect(lines.slice(2)).toEqual(['1 of 1 record(s).']);
      // The code request was made before the account existed: only the sign-up carries the user.
      expect((await cli('--user', userId)).stdout).toBe(byEmail.stdout);
    });

    it('prints JSON and filters by app, type (or prefix), time and count', async () => {
      const json = await cli('--app', app.id, '--type', 'Interaction.Register.*', '--since', '10m', '--limit', '2', '--json');
      expect(json.code).toBe(0);
      const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
      expect(rows).toHaveLength(2);
      expect(rows[0]).toMatchObject({ type: 'Interaction.Register.Submit', userId, applicationId: app.id, ip: '203.0.113.110', userAgent: UA, data: { email } });
      expect(Object.keys(rows[0]!)).toEqual(['id', 'createdAt', 'type', 'result', 'userId', 'applicationId', 'actor', 'ip', 'userAgent', 'data']);
      expect(rows.every((row) => String(row.type).startsWith('Interaction.Register.'))).toBe(true);

      const lockouts = JSON.parse((await cli('--type', 'Interaction.Lockout', '--json')).stdout) as { type: string }[];
      expect(lockouts.map((row) => row.type)).toEqual(['Interaction.Lockout', 'Interaction.Lockout']);
      expect((await cli('--since', '2999-01-01')).stdout.trim()).toBe('No audit records match.');
      expect(JSON.parse((await cli('--until', '2000-01-01T00:00:00Z', '--json')).stdout)).toEqual([]);
    });

    it('refuses a bad time, limit or unknown email with one line and exit code 2', async () => {
      for (const [args, message] of [
        [['--since', 'yesterday'], /^error: --since must be a date or time such as 2026-11-01/],
        [['--limit', '0'], /^error: --limit must be an integer between 1 and 10000/],
        [['--since', '1h', '--until', '2h'], /^error: --since must be before --until/],
        [['--user', 'nobody@example.com'], /^error: no user with email "nobody@example\.com"/],
      ] as const) {
        const result = await cli(...args);
        expect(result.code, args.join(' ')).toBe(2);
        expect(result.stderr.trim().split('\n')).toHaveLength(1);
        expect(result.stderr).toMatch(message);
      }
    });
  });
});

describe('audit log: machine-to-machine tokens', () => {
  let sesame: TestSesame;
  beforeAll(async () => {
    sesame = await startTestSesame();
  });
  afterAll(() => sesame?.stop());

  const token = (id: string, secret: string) =>
    fetch(`${sesame.issuer}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': 'deploy-script/2.0', 'x-forwarded-for': '192.0.2.1' },
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret, resource: `${sesame.config.endpoint}/api`, scope: 'all' }),
    });

  it('records the token issued by client_credentials and the refused secret, with neither token nor secret', async () => {
    const m2m = await createApplication(sesame.db, { name: 'Automation', type: 'machine_to_machine' }, CLI);
    await setManagementAccess(sesame.db, m2m.id, true, CLI);
    const issued = await token(m2m.id, m2m.secret);
    expect(issued.status).toBe(200);
    const { access_token: accessToken } = (await issued.json()) as { access_token: string };
    expect((await token(m2m.id, 'not-the-secret-0123456789')).status).toBe(401);
    expect((await token('no-such-app', 'not-the-secret-0123456789')).status).toBe(401);

    const m2mRecords = () => listAuditLogs(sesame.db, { type: 'ExchangeTokenBy.ClientCredentials', page: 1, pageSize: 5 });
    await vi.waitFor(async () => expect((await m2mRecords()).total).toBe(3));
    const rows = (await m2mRecords()).rows.reverse();
    expect(rows).toMatchObject([
      { result: 'success', applicationId: m2m.id, userId: null, userAgent: 'deploy-script/2.0', data: { scope: 'all', resource: `${sesame.config.endpoint}/api` } },
      // A wrong secret is filed under the app it was tried against; an App ID that names no app is kept as claimed.
      { result: 'failure', applicationId: m2m.id, data: { error: 'invalid_client' } },
      { result: 'failure', applicationId: null, data: { error: 'invalid_client', claimedClientId: 'no-such-app' } },
    ]);
    expect(rows[1]!.data.claimedClientId).toBeUndefined();
    // TRUST_PROXY is off here: the forged X-Forwarded-For is ignored, the socket's address is recorded.
    expect(rows.map((row) => row.ip)).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
    const text = JSON.stringify(await sesame.db.selectFrom('audit_logs').selectAll().execute());
    for (const secret of [accessToken, m2m.secret, 'not-the-secret-0123456789']) expect(text).not.toContain(secret);
  });
});

describe('audit log: retention', () => {
  let sesame: TestSesame;

  beforeAll(async () => {
    sesame = await startTestSesame({ env: { AUDIT_LOG_RETENTION_DAYS: '2' }, sesame: { purgeEveryMs: 200 } });
  });
  afterAll(() => sesame?.stop());

  it('the periodic purge deletes records older than AUDIT_LOG_RETENTION_DAYS and keeps the rest', async () => {
    const DAY = 24 * 60 * 60 * 1000;
    const now = Date.now();
    await recordAudit(sesame.db, { type: 'SignOut', result: 'success', data: { keep: false } }, now - 3 * DAY);
    await recordAudit(sesame.db, { type: 'SignOut', result: 'success', data: { keep: false } }, now - 2 * DAY - 60_000);
    await recordAudit(sesame.db, { type: 'SignOut', result: 'success', data: { keep: true } }, now - 2 * DAY + 10 * 60_000);
    await recordAudit(sesame.db, { type: 'SignOut', result: 'success', data: { keep: true } }, now);
    await vi.waitFor(async () => expect((await listAuditLogs(sesame.db, { page: 1, pageSize: 10 })).total).toBe(2), { timeout: 5000 });
    const { rows } = await listAuditLogs(sesame.db, { page: 1, pageSize: 10 });
    expect(rows.map((row) => row.data.keep)).toEqual([true, true]);
  });
});

describePostgres('PostgreSQL: sesame db copy carries the audit log, and new records follow the copied ones', () => {
  const target = useTestDatabase();

  it('moves the identity sequence past the copied rows', async () => {
    const dir = tempDir();
    try {
      const source = databaseConfig(`sqlite:${join(dir.path, 'sesame.db')}`, {}, []) as SqliteDatabaseConfig;
      const sqlite = await openDatabase(source);
      await migrateDatabase(sqlite, MIGRATIONS.sqlite);
      for (let i = 0; i < 3; i += 1) await recordAudit(sqlite.db, { type: 'SignOut', result: 'success', data: { i } }, 1_800_000_000_000);
      await sqlite.db.destroy();

      await copySqliteToPostgres({ source, target: target.current.config, migrations: MIGRATIONS });
      const postgres = await openDatabase(target.current.config);
      try {
        // Same millisecond: only the write order (seq) tells them apart, and the new one must come last.
        await recordAudit(postgres.db, { type: 'SignOut', result: 'success', data: { i: 3 } }, 1_800_000_000_000);
        const { rows } = await listAuditLogs(postgres.db, { page: 1, pageSize: 10 });
        expect(rows.map((row) => row.data.i)).toEqual([3, 2, 1, 0]);
      } finally {
        await postgres.db.destroy();
      }
    } finally {
      dir.remove();
    }
  });
});
