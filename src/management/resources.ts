import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { findResourceByIndicator, insertResource, type ApiResource } from '../db/resources.ts';
import { randomId } from '../lib/random.ts';
import { displayName, firstIssue, hasWhitespaceOrControl, quoteInput } from '../lib/validation.ts';
import { InvalidInputError } from './applications.ts';
import { OIDC_SCOPES } from '../oidc/account.ts';

export const DEFAULT_ACCESS_TOKEN_TTL = 3600;
export const MIN_ACCESS_TOKEN_TTL = 60;
export const MAX_ACCESS_TOKEN_TTL = 24 * 60 * 60;

/** RFC 6749 scope-token: printable ASCII except space, `"` and `\`. */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

const indicatorSchema = z
  .string({ error: 'indicator is required' })
  .min(1, 'indicator is required')
  .max(256, 'indicator must be at most 256 characters')
  // Whitespace is checked explicitly because URL.canParse skips leading/trailing spaces and inner
  // tabs and line breaks: the indicator is stored as typed and compared exactly with the
  // `resource` apps send.
  .superRefine((value, ctx) => {
    if (!URL.canParse(value.replace(/[\s\p{Cc}\p{Cf}]/gu, ''))) {
      ctx.addIssue({ code: 'custom', message: `indicator must be an absolute URI such as https://api.example.com, got ${quoteInput(value)}` });
    } else if (hasWhitespaceOrControl(value)) {
      ctx.addIssue({ code: 'custom', message: `indicator must not contain spaces, tabs, line breaks or control characters, got ${quoteInput(value)}` });
    }
  })
  .refine((value) => !value.includes('#'), { error: 'indicator must not contain a #fragment' });

export const newResourceSchema = z.object({
  indicator: indicatorSchema,
  name: displayName(),
  scopes: z
    .array(
      z
        .string()
        .max(128, 'a scope must be at most 128 characters')
        .regex(SCOPE_TOKEN, { error: (issue) => `scope ${quoteInput(issue.input)} must be one word of printable characters (no spaces, quotes or backslashes)` })
        .refine((scope) => !(OIDC_SCOPES as readonly string[]).includes(scope), {
          error: (issue) => `scope ${quoteInput(issue.input)} is reserved for OpenID Connect; pick another name`,
        }),
    )
    .max(100, 'at most 100 scopes per resource')
    .refine((scopes) => new Set(scopes).size === scopes.length, { error: 'each scope may be listed only once' })
    .default([]),
  accessTokenTtl: z
    .number({ error: 'access token TTL must be a number of seconds' })
    .int('access token TTL must be a whole number of seconds')
    .min(MIN_ACCESS_TOKEN_TTL, `access token TTL must be at least ${MIN_ACCESS_TOKEN_TTL} seconds`)
    .max(MAX_ACCESS_TOKEN_TTL, `access token TTL must be at most ${MAX_ACCESS_TOKEN_TTL} seconds (one day)`)
    .default(DEFAULT_ACCESS_TOKEN_TTL),
});

export type NewResource = z.input<typeof newResourceSchema>;

/** Registers an API resource; the CLI and tests come through here. */
export async function createResource(db: Database, input: NewResource, now = Date.now()): Promise<ApiResource> {
  const parsed = newResourceSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  const resource: ApiResource = { id: randomId(), createdAt: now, ...parsed.data };
  return db.transaction().execute(async (tx) => {
    if (await findResourceByIndicator(tx, resource.indicator)) {
      throw new InvalidInputError(`a resource with indicator "${resource.indicator}" already exists`);
    }
    await insertResource(tx, resource);
    return resource;
  });
}
