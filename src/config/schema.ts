import { isIP } from 'node:net';
import { z } from 'zod';
import { DATABASE_SSL_WORDS, parseDatabaseUrl } from './database.ts';
import { booleanWord, got, integerIn, mailbox, mustBeIntegerBetween, mustBeTrueOrFalse, oneOf } from '../lib/validation.ts';

const integer = (name: string, min: number, max: number) => integerIn(min, max, mustBeIntegerBetween(name, min, max), 'text');
const boolean = (name: string) => booleanWord(mustBeTrueOrFalse(name));

/** A public origin (scheme, host, port; no path): ENDPOINT (the issuer is ENDPOINT/oidc) and DEMO_URL. */
const publicOrigin = (name: string, example: string) =>
  z
    .string()
    .trim()
    .refine(
      (value) => {
        try {
          const url = new URL(value);
          return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/' && !url.search && !url.hash;
        } catch {
          return false;
        }
      },
      { error: (issue) => `${name} must be an http(s) origin without a path, such as ${example}, ${got(issue.input)}` },
    )
    .transform((value) => value.replace(/\/+$/, ''));

const optionalText = z
  .string()
  .optional()
  .transform((value) => (value === undefined || value.trim() === '' ? undefined : value.trim()));

/** What fastify's `trustProxy` takes from us: off, a hop count, or the proxies' addresses/CIDRs. */
export type TrustProxy = false | number | string[];

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

/** An IP address, an IP/prefix CIDR, or one of proxy-addr's names (loopback, linklocal, uniquelocal). */
function isProxyAddress(entry: string): boolean {
  if (PROXY_NAMES.has(entry)) return true;
  const [address = '', prefix, ...rest] = entry.split('/');
  const version = isIP(address);
  if (!version || rest.length) return false;
  if (prefix === undefined) return true;
  // proxy-addr also accepts an IPv4 netmask after the slash (10.0.0.0/255.0.0.0).
  if (version === 4 && isIP(prefix) === 4) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128);
}

/**
 * TRUST_PROXY: `false` (default) trusts no X-Forwarded-* header; a hop count N trusts the N proxies
 * nearest to Sesame; a comma-separated list trusts exactly those addresses/CIDRs. `true` means one
 * hop (the reverse proxy in front of Sesame), never "trust every hop": that would let a client
 * choose the address rate limits are keyed on by forging the first X-Forwarded-For entry.
 */
const trustProxy = z
  .string()
  .trim()
  .transform((value, context): TrustProxy => {
    const lower = value.toLowerCase();
    if (['false', 'no', 'off', '0', ''].includes(lower)) return false;
    if (['true', 'yes', 'on'].includes(lower)) return 1;
    if (/^\d+$/.test(value)) {
      const hops = Number(value);
      if (hops <= 32) return hops;
    } else {
      const entries = value.split(',').map((entry) => entry.trim());
      if (entries.every(isProxyAddress)) return entries;
    }
    context.addIssue({
      code: 'custom',
      message: `TRUST_PROXY must be false, a hop count from 1 to 32, or a comma-separated list of proxy addresses or CIDRs such as 127.0.0.1,10.0.0.0/8, ${got(value)}`,
    });
    return z.NEVER;
  });

/** WORKERS: how many server processes share the port; `auto` is one per core. */
const workers = z
  .string()
  .trim()
  .transform((value, context): number | 'auto' => {
    if (value.toLowerCase() === 'auto') return 'auto';
    if (/^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 64) return Number(value);
    context.addIssue({ code: 'custom', message: `WORKERS must be auto or an integer between 1 and 64, ${got(value)}` });
    return z.NEVER;
  });

/** Raw environment -> typed settings. Every message names its variable and what it got. */
export const envSchema = z.object({
  NODE_ENV: oneOf('NODE_ENV', ['development', 'production', 'test']).default('development'),
  ENDPOINT: publicOrigin('ENDPOINT', 'https://id.example.com').default('http://localhost:3001'),
  PORT: integer('PORT', 1, 65535).default(3001),
  HOST: z.string().trim().min(1, 'HOST must not be empty').default('127.0.0.1'),
  // sqlite:FILE or postgres(ql)://user:password@host:port/database?sslmode=...: each problem with the
  // URL is its own line (src/config/database.ts), and none of them prints the password.
  DATABASE_URL: z
    .string()
    .trim()
    .superRefine((value, context) => {
      const problems: string[] = [];
      parseDatabaseUrl(value, problems);
      for (const message of problems) context.addIssue({ code: 'custom', message });
    })
    .default('sqlite:./data/sesame.db'),
  DATABASE_POOL_MAX: integer('DATABASE_POOL_MAX', 1, 1000).optional(),
  DATABASE_CONNECT_TIMEOUT_MS: integer('DATABASE_CONNECT_TIMEOUT_MS', 100, 600_000).optional(),
  DATABASE_STATEMENT_TIMEOUT_MS: integer('DATABASE_STATEMENT_TIMEOUT_MS', 0, 3_600_000).optional(),
  DATABASE_SSL: oneOf('DATABASE_SSL', DATABASE_SSL_WORDS).optional(),
  DATABASE_SSL_CA: optionalText,
  SMTP_HOST: optionalText,
  SMTP_PORT: integer('SMTP_PORT', 1, 65535).optional(),
  SMTP_USER: optionalText,
  SMTP_PASS: optionalText,
  SMTP_SECURE: boolean('SMTP_SECURE').optional(),
  SMTP_FROM: mailbox((input) => `SMTP_FROM must be an email address such as "Sesame <no-reply@example.com>", ${got(input)}`, { allowEmpty: true })
    .optional()
    .transform((value) => (value ? value : undefined)),
  LOG_LEVEL: oneOf('LOG_LEVEL', ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  TRUST_PROXY: trustProxy.default(false),
  CODE_TTL_MINUTES: integer('CODE_TTL_MINUTES', 1, 60).default(10),
  RATE_LIMIT_PER_MINUTE: integer('RATE_LIMIT_PER_MINUTE', 10, 1_000_000).default(600),
  CODE_SENDS_PER_IP: integer('CODE_SENDS_PER_IP', 1, 1_000_000).default(30),
  WORKERS: workers.default(1),
  SIGNING_KEY_GRACE_SECONDS: integer('SIGNING_KEY_GRACE_SECONDS', 1, 30 * 24 * 60 * 60).default(600),
  AUDIT_LOG_RETENTION_DAYS: integer('AUDIT_LOG_RETENTION_DAYS', 1, 3650).default(30),
  PURGE_INTERVAL_SECONDS: integer('PURGE_INTERVAL_SECONDS', 1, 86_400).default(600),
  DEMO_PORT: integer('DEMO_PORT', 1, 65535).default(3000),
  DEMO_URL: publicOrigin('DEMO_URL', 'http://localhost:3000').optional(),
});

export type Env = z.output<typeof envSchema>;
