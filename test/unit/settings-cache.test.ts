import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqlite } from '../../src/db/sqlite.ts';
import type { Database } from '../../src/db/database.ts';
import { migrate } from '../../src/db/migrate.ts';
import { deleteSetting, writeSetting } from '../../src/db/settings.ts';
import { loadExperience, saveExperience } from '../../src/sign-in/experience.ts';
import { SMTP_CONNECTOR_SETTING, storedConnectorConfig } from '../../src/mail/mail-source.ts';

const MIGRATIONS = resolve(import.meta.dirname, '../../migrations/sqlite');
const SMTP = { host: 'smtp.example.com', port: 587, fromEmail: 'Sesame <no-reply@example.com>' };
/** The cached version is forgotten at the end of the event-loop turn it was read in. */
const nextTurn = () => new Promise((done) => setImmediate(done));

let dir: string;
/** The server's connection, with every statement it runs recorded. */
let server: Database;
/** Another process's connection (the CLI). */
let cli: Database;
let statements: string[];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sesame-settings-'));
  statements = [];
  server = openSqlite(join(dir, 'sesame.db'), {
    log: (event) => void (event.level === 'query' && statements.push(`${event.query.sql} ${JSON.stringify(event.query.parameters)}`)),
  });
  await migrate(server, MIGRATIONS);
  cli = openSqlite(join(dir, 'sesame.db'));
  statements = [];
});

afterEach(async () => {
  await server.destroy();
  await cli.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const reads = (key: string) => statements.filter((s) => s.includes(`"${key}"`)).length;

describe('settings cache', () => {
  it('does not re-read or re-validate an unchanged experience: one version check per turn', async () => {
    const first = await loadExperience(server, 10);
    await nextTurn();
    statements = [];
    const [a, b, c] = [await loadExperience(server, 10), await loadExperience(server, 10), await loadExperience(server, 10)];
    expect(a).toBe(first);
    expect(b).toBe(first);
    expect(c).toBe(first);
    expect(statements).toEqual(['select "value", "updated_at" from "settings" where "key" = ? ["settings.version"]']);
    await nextTurn();
    await loadExperience(server, 10);
    expect(reads('settings.version')).toBe(2);
    expect(reads('sign_in_experience')).toBe(0);
  });

  it('applies a change made by another connection from the next turn on', async () => {
    expect((await loadExperience(server, 10)).verificationCode.ttlMinutes).toBe(10);
    await saveExperience(cli, { verificationCode: { ttlMinutes: 20 } }, Date.now(), 10);
    await nextTurn();
    statements = [];
    expect((await loadExperience(server, 10)).verificationCode.ttlMinutes).toBe(20);
    expect(reads('sign_in_experience')).toBe(1);
  });

  it("applies this process's own change at once, in the same turn", async () => {
    expect((await loadExperience(server, 10)).signInMode).toBe('SignInAndRegister');
    await saveExperience(server, { signInMode: 'SignIn' }, Date.now(), 10);
    expect((await loadExperience(server, 10)).signInMode).toBe('SignIn');
  });

  it('sees two writes stamped with the same millisecond (a counter, not updated_at)', async () => {
    const at = 1_700_000_000_000;
    await saveExperience(cli, { verificationCode: { maxAttempts: 3 } }, at, 10);
    await nextTurn();
    expect((await loadExperience(server, 10)).verificationCode.maxAttempts).toBe(3);
    await saveExperience(cli, { verificationCode: { maxAttempts: 4 } }, at, 10);
    await nextTurn();
    expect((await loadExperience(server, 10)).verificationCode.maxAttempts).toBe(4);
  });

  it('keeps one cache per database and per code lifetime default', async () => {
    const other = openSqlite(join(dir, 'other.db'));
    try {
      await migrate(other, MIGRATIONS);
      await saveExperience(other, { verificationCode: { ttlMinutes: 30 } }, Date.now(), 10);
      await nextTurn();
      expect((await loadExperience(server, 10)).verificationCode.ttlMinutes).toBe(10);
      expect((await loadExperience(other, 10)).verificationCode.ttlMinutes).toBe(30);
      expect((await loadExperience(server, 15)).verificationCode.ttlMinutes).toBe(15);
    } finally {
      await other.destroy();
    }
  });

  it('re-reads the SMTP connector only when it was set or removed elsewhere', async () => {
    expect(await storedConnectorConfig(server)).toBeUndefined();
    await writeSetting(cli, SMTP_CONNECTOR_SETTING, SMTP, Date.now());
    await nextTurn();
    const stored = await storedConnectorConfig(server);
    expect(stored?.config.host).toBe('smtp.example.com');
    await nextTurn();
    statements = [];
    expect(await storedConnectorConfig(server)).toBe(stored);
    expect(reads(SMTP_CONNECTOR_SETTING)).toBe(0);
    await writeSetting(cli, SMTP_CONNECTOR_SETTING, { ...SMTP, port: 2525 }, Date.now());
    await nextTurn();
    expect((await storedConnectorConfig(server))?.config.port).toBe(2525);
    expect(await deleteSetting(cli, SMTP_CONNECTOR_SETTING)).toBe(true);
    await nextTurn();
    expect(await storedConnectorConfig(server)).toBeUndefined();
  });

  it('does not keep a failure: an invalid stored connector is reported on every use', async () => {
    await writeSetting(cli, SMTP_CONNECTOR_SETTING, { ...SMTP, port: 0 }, Date.now());
    await expect(storedConnectorConfig(server)).rejects.toThrow('the stored SMTP connector config is invalid: port must be an integer between 1 and 65535');
    await expect(storedConnectorConfig(server)).rejects.toThrow('is invalid');
  });
});
