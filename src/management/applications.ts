import { z } from 'zod';
import type { Database } from '../db/database.ts';
import {
  APPLICATION_TYPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
  insertApplication,
  type Application,
} from '../db/applications.ts';
import { randomId, randomString } from '../lib/random.ts';
import { displayName, firstIssue, hasWhitespaceOrControl, quoteInput } from '../lib/validation.ts';

function isAbsoluteHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
  } catch {
    return false;
  }
}

const absoluteHttpUrl = (label: string) =>
  z.string().superRefine((value, ctx) => {
    // Whitespace is checked explicitly because URL parsing quietly strips it (leading/trailing
    // spaces, inner tabs and line breaks): the URI is stored as typed and must match the app's
    // requests exactly. Something that is no URL even without it gets the URL message.
    if (!isAbsoluteHttpUrl(value.replace(/[\s\p{Cc}\p{Cf}]/gu, ''))) {
      ctx.addIssue({ code: 'custom', message: `${label} must be an absolute http(s) URL without a #fragment, got ${quoteInput(value)}` });
    } else if (hasWhitespaceOrControl(value)) {
      ctx.addIssue({ code: 'custom', message: `${label} must not contain spaces, tabs, line breaks or control characters, got ${quoteInput(value)}` });
    }
  });

export const newApplicationSchema = z.object({
  name: displayName(),
  type: z.enum(APPLICATION_TYPES, {
    error: (issue) => `type must be one of: ${APPLICATION_TYPES.join(', ')}, got ${quoteInput(issue.input)}`,
  }),
  redirectUris: z.array(absoluteHttpUrl('redirect URI')).min(1, 'at least one --redirect-uri is required'),
  postLogoutRedirectUris: z.array(absoluteHttpUrl('post-logout redirect URI')).default([]),
  isThirdParty: z.boolean().default(false),
  tokenEndpointAuthMethod: z
    .enum(TOKEN_ENDPOINT_AUTH_METHODS, {
      error: (issue) => `token endpoint auth method must be one of: ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}, got ${quoteInput(issue.input)}`,
    })
    .default('client_secret_basic'),
});

export type NewApplication = z.input<typeof newApplicationSchema>;

export class InvalidInputError extends Error {}

/** The one way an application gets registered: the CLI, the demo and tests all come through here. */
export async function createApplication(db: Database, input: NewApplication): Promise<Application> {
  const parsed = newApplicationSchema.safeParse(input);
  if (!parsed.success) throw new InvalidInputError(firstIssue(parsed.error));
  const app: Application = {
    id: randomId(),
    secret: randomString(32),
    createdAt: Date.now(),
    ...parsed.data,
  };
  await insertApplication(db, app);
  return app;
}
