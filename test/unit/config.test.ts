import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/index.ts';

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('configuration', () => {
  it('has working defaults', () => {
    const config = loadConfig({});
    expect(config.endpoint).toBe('http://localhost:3001');
    expect(config.issuer).toBe('http://localhost:3001/oidc');
    expect(config.port).toBe(3001);
    expect(config.host).toBe('127.0.0.1');
    expect(config.databaseFile).toMatch(/data\/sesame\.db$/);
    expect(config.smtp).toBeUndefined();
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reports one clear line per bad field', () => {
    expect(problems({ PORT: 'abc' })).toEqual(['PORT must be an integer between 1 and 65535, got "abc"']);
    const many = problems({ PORT: '70000', ENDPOINT: 'localhost:3001', NODE_ENV: 'prod', SMTP_SECURE: 'maybe', DATABASE_URL: 'mysql://x' });
    expect(many).toHaveLength(5);
    expect(many).toEqual(
      expect.arrayContaining([
        'PORT must be an integer between 1 and 65535, got "70000"',
        'ENDPOINT must be an http(s) origin without a path, such as https://id.example.com, got "localhost:3001"',
        'NODE_ENV must be one of development, production, test, got "prod"',
        'SMTP_SECURE must be true or false, got "maybe"',
        'DATABASE_URL must look like sqlite:./data/sesame.db, got "mysql://x"',
      ]),
    );
  });

  it('requires SMTP_FROM with SMTP_HOST, and SMTP_HOST with any other SMTP_* variable', () => {
    expect(problems({ SMTP_HOST: 'smtp.example.com' })).toEqual([
      'SMTP_FROM is required when SMTP_HOST is set (e.g. "Sesame <no-reply@example.com>")',
    ]);
    expect(problems({ SMTP_USER: 'me' })).toEqual(['SMTP_HOST is required when any other SMTP_* variable is set']);
  });

  it('refuses an ENDPOINT with a path', () => {
    expect(problems({ ENDPOINT: 'https://example.com/auth' })).toEqual([
      'ENDPOINT must be an http(s) origin without a path, such as https://id.example.com, got "https://example.com/auth"',
    ]);
  });

  it('strips a trailing slash from ENDPOINT so the issuer has none', () => {
    expect(loadConfig({ ENDPOINT: 'https://id.example.com/' }).issuer).toBe('https://id.example.com/oidc');
    expect(loadConfig({ ENDPOINT: 'https://id.example.com/' }).secureCookies).toBe(true);
  });

  it('picks port 465 and implicit TLS from SMTP_SECURE, 587 otherwise', () => {
    const base = { SMTP_HOST: 'smtp.example.com', SMTP_FROM: 'a@example.com' };
    expect(loadConfig(base).smtp).toMatchObject({ port: 587, secure: false });
    expect(loadConfig({ ...base, SMTP_SECURE: 'true' }).smtp).toMatchObject({ port: 465, secure: true });
  });
});

describe('TRUST_PROXY', () => {
  const trust = (value: string) => loadConfig({ TRUST_PROXY: value }).trustProxy;
  const message = (value: string) =>
    `TRUST_PROXY must be false, a hop count from 1 to 32, or a comma-separated list of proxy addresses or CIDRs such as 127.0.0.1,10.0.0.0/8, got ${JSON.stringify(value)}`;

  it('is off by default and for false/no/0', () => {
    expect(loadConfig({}).trustProxy).toBe(false);
    for (const value of ['false', 'FALSE', 'no', '0', ' off ']) expect(trust(value), value).toBe(false);
  });

  it('takes `true` as exactly one trusted hop, never as "trust every hop"', () => {
    expect(trust('true')).toBe(1);
    expect(trust('yes')).toBe(1);
    expect(trust('1')).toBe(1);
  });

  it('takes a hop count', () => {
    expect(trust('2')).toBe(2);
    expect(trust(' 3 ')).toBe(3);
  });

  it('takes a comma-separated list of proxy addresses and CIDRs', () => {
    expect(trust('127.0.0.1')).toEqual(['127.0.0.1']);
    expect(trust('10.0.0.0/8, 192.168.1.10,::1 , fd00::/8')).toEqual(['10.0.0.0/8', '192.168.1.10', '::1', 'fd00::/8']);
    expect(trust('loopback,uniquelocal')).toEqual(['loopback', 'uniquelocal']);
    expect(trust('10.0.0.0/255.0.0.0')).toEqual(['10.0.0.0/255.0.0.0']);
    expect(Object.isFrozen(loadConfig({ TRUST_PROXY: '127.0.0.1' }).trustProxy)).toBe(true);
  });

  it('refuses anything else with one line naming the variable', () => {
    for (const value of ['maybe', '10.0.0.0/33', '300.1.1.1', '127.0.0.1,', '10.0.0.1/8/8', '33', '-1', '1.5', 'proxy.example.com']) {
      expect(problems({ TRUST_PROXY: value }), value).toEqual([message(value)]);
    }
  });
});
