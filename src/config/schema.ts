import { z } from 'zod';

const got = (input: unknown) => `got ${JSON.stringify(input)}`;

const integer = (name: string, min: number, max: number) =>
  z
    .string()
    .trim()
    .refine((value) => /^\d+$/.test(value) && Number(value) >= min && Number(value) <= max, {
      error: (issue) => `${name} must be an integer between ${min} and ${max}, ${got(issue.input)}`,
    })
    .transform(Number);

const boolean = (name: string) =>
  z
    .string()
    .trim()
    .toLowerCase()
    .refine((value) => ['true', 'false', '1', '0', 'yes', 'no'].includes(value), {
      error: (issue) => `${name} must be true or false, ${got(issue.input)}`,
    })
    .transform((value) => ['true', '1', 'yes'].includes(value));

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

/** Raw environment -> typed settings. Every message names its variable and what it got. */
export const envSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], {
      error: (issue) => `NODE_ENV must be one of development, production, test, ${got(issue.input)}`,
    })
    .default('development'),
  ENDPOINT: publicOrigin('ENDPOINT', 'https://id.example.com').default('http://localhost:3001'),
  PORT: integer('PORT', 1, 65535).default(3001),
  HOST: z.string().trim().min(1, 'HOST must not be empty').default('127.0.0.1'),
  DATABASE_URL: z
    .string()
    .trim()
    .refine((value) => /^sqlite:.+/.test(value), {
      error: (issue) => `DATABASE_URL must look like sqlite:./data/sesame.db, ${got(issue.input)}`,
    })
    .default('sqlite:./data/sesame.db'),
  SMTP_HOST: optionalText,
  SMTP_PORT: integer('SMTP_PORT', 1, 65535).optional(),
  SMTP_USER: optionalText,
  SMTP_PASS: optionalText,
  SMTP_SECURE: boolean('SMTP_SECURE').optional(),
  SMTP_FROM: z
    .string()
    .trim()
    .refine((value) => value === '' || /^[^\s@<>"]+@[^\s@<>"]+\.[^\s@<>"]+$/.test(value) || /^[^<>\r\n]*<[^\s@<>"]+@[^\s@<>"]+>$/.test(value), {
      error: (issue) => `SMTP_FROM must be an email address such as "Sesame <no-reply@example.com>", ${got(issue.input)}`,
    })
    .optional()
    .transform((value) => (value ? value : undefined)),
  LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], {
      error: (issue) => `LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, ${got(issue.input)}`,
    })
    .default('info'),
  TRUST_PROXY: boolean('TRUST_PROXY').default(false),
  CODE_TTL_MINUTES: integer('CODE_TTL_MINUTES', 1, 60).default(10),
  RATE_LIMIT_PER_MINUTE: integer('RATE_LIMIT_PER_MINUTE', 10, 1_000_000).default(600),
  CODE_SENDS_PER_IP: integer('CODE_SENDS_PER_IP', 1, 1_000_000).default(30),
  DEMO_PORT: integer('DEMO_PORT', 1, 65535).default(3000),
  DEMO_URL: publicOrigin('DEMO_URL', 'http://localhost:3000').optional(),
});

export type Env = z.output<typeof envSchema>;
