import { z } from 'zod';
import type { Database } from '../db/database.ts';
import { APPLICATION_TYPES, insertApplication, type Application } from '../db/applications.ts';
import { randomId, randomString } from '../lib/random.ts';
import { firstIssue } from '../lib/validation.ts';

const absoluteHttpUrl = (label: string) =>
  z.string().refine(
    (value) => {
      try {
        const url = new URL(value);
        return (url.protocol === 'http:' || url.protocol === 'https:') && !url.hash;
      } catch {
        return false;
      }
    },
    { error: (issue) => `${label} must be an absolute http(s) URL without a #fragment, got "${String(issue.input)}"` },
  );

export const newApplicationSchema = z.object({
  name: z
    .string({ error: 'name is required' })
    .trim()
    .min(1, 'name is required')
    .max(128, 'name must be at most 128 characters'),
  type: z.enum(APPLICATION_TYPES, {
    error: (issue) => `type must be one of: ${APPLICATION_TYPES.join(', ')}, got "${String(issue.input)}"`,
  }),
  redirectUris: z.array(absoluteHttpUrl('redirect URI')).min(1, 'at least one --redirect-uri is required'),
  postLogoutRedirectUris: z.array(absoluteHttpUrl('post-logout redirect URI')).default([]),
  isThirdParty: z.boolean().default(false),
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
