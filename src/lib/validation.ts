import type { z } from 'zod';

/** A person-readable line for the first problem zod found. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  return issue ? issue.message : 'invalid input';
}

