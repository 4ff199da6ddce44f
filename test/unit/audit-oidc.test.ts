import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type Provider from 'oidc-provider';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { listAuditLogs } from '../../src/audit/log.ts';
import { auditOidcEvents } from '../../src/audit/oidc.ts';

/**
 * The provider's events as oidc-provider emits them: (ctx) on success, (ctx, err) on error, ctx a
 * koa context with ctx.oidc. A plain emitter stands in for the provider, so the mapping is tested
 * without an m2m app (the integration test covers the sign-out through a real provider).
 */
function koaContext(options: { params: Record<string, unknown>; clientId?: string; body?: unknown; headers?: Record<string, string>; ip?: string; session?: { accountId?: string } }) {
  const headers = { 'user-agent': 'curl/8.5.0', ...options.headers };
  return {
    ip: options.ip ?? '::ffff:198.51.100.4',
    body: options.body,
    get: (name: string) => headers[name.toLowerCase() as keyof typeof headers] ?? '',
    oidc: { params: options.params, client: options.clientId ? { clientId: options.clientId } : undefined, session: options.session },
  };
}

describe('audit log: oidc-provider events', () => {
  let dir: string;
  let db: Database;
  let provider: EventEmitter;
  const log = { error: vi.fn() };

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sesame-audit-oidc-'));
    db = openSqlite(join(dir, 'a.db'));
    await migrate(db, resolve(import.meta.dirname, '../../migrations/sqlite'));
    provider = new EventEmitter();
    log.error.mockReset();
    auditOidcEvents(provider as unknown as Provider, db, log);
  });
  afterEach(async () => {
    await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The listener writes in the background: wait for `n` records. */
  async function records(n: number) {
    await vi.waitFor(async () => expect((await listAuditLogs(db, { page: 1, pageSize: 50 })).total).toBe(n));
    return (await listAuditLogs(db, { page: 1, pageSize: 50 })).rows.reverse();
  }

  it('records a client_credentials token with the app, scope and resource, and no token', async () => {
    const ctx = koaContext({
      params: { grant_type: 'client_credentials', scope: 'all', resource: 'https://default.logto.app/api', client_id: 'm2m-app' },
      clientId: 'm2m-app',
      body: { access_token: 'eyJ-ACCESS-TOKEN-VALUE', token_type: 'Bearer', expires_in: 3600, scope: 'all' },
    });
    provider.emit('grant.success', ctx);
    const [record] = await records(1);
    expect(record).toMatchObject({
      type: 'ExchangeTokenBy.ClientCredentials',
      result: 'success',
      applicationId: 'm2m-app',
      userId: null,
      ip: '198.51.100.4',
      userAgent: 'curl/8.5.0',
      data: { scope: 'all', resource: 'https://default.logto.app/api' },
    });
    expect(JSON.stringify(await db.selectFrom('audit_logs').selectAll().execute())).not.toContain('ACCESS-TOKEN');
  });

  it('records a refused client_credentials request with the App ID it claimed, never the secret', async () => {
    const basic = `Basic ${Buffer.from('m2m-app:the-App-Secret-123').toString('base64')}`;
    provider.emit('grant.error', koaContext({ params: { grant_type: 'client_credentials' }, headers: { authorization: basic } }), {
      error: 'invalid_client',
      error_description: 'client authentication failed',
    });
    const [record] = await records(1);
    expect(record).toMatchObject({
      type: 'ExchangeTokenBy.ClientCredentials',
      result: 'failure',
      applicationId: null,
      data: { error: 'invalid_client', description: 'client authentication failed', claimedClientId: 'm2m-app' },
    });
    expect(JSON.stringify(await db.selectFrom('audit_logs').selectAll().execute())).not.toContain('the-App-Secret-123');
  });

  it('leaves every other grant out (the sign-in before it is recorded already)', async () => {
    provider.emit('grant.success', koaContext({ params: { grant_type: 'authorization_code', code: 'abc' }, clientId: 'web' }));
    provider.emit('grant.success', koaContext({ params: { grant_type: 'refresh_token' }, clientId: 'web' }));
    provider.emit('grant.error', koaContext({ params: { grant_type: 'refresh_token' } }), { error: 'invalid_grant' });
    // Then one that is recorded: once it is in, the three before it would be too.
    provider.emit('grant.success', koaContext({ params: { grant_type: 'client_credentials' }, clientId: 'm2m' }));
    const rows = await records(1);
    expect(rows.map((row) => row.applicationId)).toEqual(['m2m']);
  });

  it('records a sign-out with the account and app, and nothing when nobody was signed in', async () => {
    provider.emit('end_session.success', koaContext({ params: {}, session: {} }));
    provider.emit('end_session.success', koaContext({ params: { logout: 'yes' }, clientId: 'web', session: { accountId: 'user-1' }, ip: '203.0.113.9' }));
    const rows = await records(1);
    expect(rows[0]).toMatchObject({ type: 'SignOut', result: 'success', userId: 'user-1', applicationId: 'web', ip: '203.0.113.9', data: { everywhere: true } });
  });

  it('logs a record it cannot write instead of failing the request', async () => {
    await db.destroy();
    expect(() => provider.emit('grant.success', koaContext({ params: { grant_type: 'client_credentials' }, clientId: 'm2m' }))).not.toThrow();
    await vi.waitFor(() => expect(log.error).toHaveBeenCalledWith(expect.objectContaining({ audit: 'ExchangeTokenBy.ClientCredentials' }), expect.any(String)));
    db = openSqlite(join(dir, 'a.db'));
  });
});
