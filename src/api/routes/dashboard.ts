import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { activity, mailSetup } from '../../management/dashboard.ts';
import { errorResponses } from '../schemas.ts';

const TAG = 'Dashboard';
const counts = z.object({ signIns: z.number(), signUps: z.number(), failedAttempts: z.number(), mailFailures: z.number() });

/** Sesame's own summary routes for the admin console's overview (Logto has /api/dashboard/* too, with other shapes). */
export function dashboardRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db, config } = deps;

  api.get(
    '/dashboard/activity',
    {
      schema: {
        tags: [TAG],
        operationId: 'GetActivity',
        summary: 'Sign-ins, sign-ups, failed attempts and mail failures over time (Sesame)',
        description: 'Counted from the audit log: hourly over the last 24 hours (period=24h) or daily (UTC) over the last 30 days (period=30d).',
        querystring: z.object({ period: z.enum(['24h', '30d'], { error: 'period must be 24h or 30d' }).default('24h') }),
        response: {
          200: z.object({ period: z.string(), from: z.number(), to: z.number(), bucketMs: z.number(), buckets: z.array(counts.extend({ start: z.number() })), totals: counts }),
          ...errorResponses(400),
        },
      },
    },
    async (request) => activity(db, request.query.period, deps.now()),
  );

  api.get(
    '/dashboard/setup',
    {
      schema: {
        tags: [TAG],
        operationId: 'GetSetup',
        summary: 'How this Sesame runs (Sesame)',
        description: 'NODE_ENV, and where mail goes: the stored SMTP connector, the SMTP_* variables, or nowhere (none: the dev mailbox outside production).',
        response: { 200: z.object({ environment: z.string(), mailSource: z.enum(['connector', 'environment', 'none']) }), ...errorResponses() },
      },
    },
    async () => mailSetup(db, config),
  );
}
