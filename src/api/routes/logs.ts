import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { findAuditLog, listAuditLogs, type AuditRecord } from '../../audit/log.ts';
import { NotFoundError } from '../../management/errors.ts';
import { errorResponses, paginationQuery, setTotal, TENANT_ID } from '../schemas.ts';

const TAG = 'Audit logs';

/** An audit record in Logto's log shape: `key` is the event type, the rest sits in `payload`. */
const logSchema = z
  .object({
    tenantId: z.string(),
    id: z.string(),
    key: z.string(),
    payload: z.object({
      key: z.string(),
      result: z.enum(['Success', 'Error']),
      ip: z.string().optional(),
      userAgent: z.string().optional(),
      userId: z.string().optional(),
      applicationId: z.string().optional(),
      actor: z.string().optional().meta({ description: "Who made a management change: 'cli', 'app:<m2m app id>' or 'user:<administrator's user id>' (the admin console)" }),
      params: z.record(z.string(), z.unknown()).optional(),
    }),
    createdAt: z.number(),
  })
  .meta({ id: 'Log' });

function toLog(record: AuditRecord): z.output<typeof logSchema> {
  return {
    tenantId: TENANT_ID,
    id: record.id,
    key: record.type,
    payload: {
      key: record.type,
      result: record.result === 'success' ? 'Success' : 'Error',
      ...(record.ip && { ip: record.ip }),
      ...(record.userAgent && { userAgent: record.userAgent }),
      ...(record.userId && { userId: record.userId }),
      ...(record.applicationId && { applicationId: record.applicationId }),
      ...(record.actor && { actor: record.actor }),
      ...(Object.keys(record.data).length && { params: record.data }),
    },
    createdAt: record.createdAt,
  };
}

const time = (name: string) =>
  z.coerce
    .number({ error: `${name} must be a time in milliseconds since 1970` })
    .int(`${name} must be a time in milliseconds since 1970`)
    .min(0, `${name} must be a time in milliseconds since 1970`)
    .optional();

const listQuery = paginationQuery
  .extend({
    userId: z.string().max(200).optional(),
    applicationId: z.string().max(200).optional(),
    logKey: z.string().max(200).optional().meta({ description: "An event type, or a prefix ending in .* ('Management.*')" }),
    start_time: time('start_time').meta({ description: 'Inclusive lower bound on createdAt (ms)' }),
    end_time: time('end_time').meta({ description: 'Inclusive upper bound on createdAt (ms)' }),
  })
  .refine((query) => query.start_time === undefined || query.end_time === undefined || query.start_time <= query.end_time, {
    message: 'start_time must not be after end_time',
    path: ['start_time'],
  });

export function logRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db } = deps;

  api.get(
    '/logs',
    {
      schema: {
        tags: [TAG],
        operationId: 'ListLogs',
        summary: 'List audit log records',
        description: 'Newest first. The Total-Number header says how many match in all. Records are kept for AUDIT_LOG_RETENTION_DAYS (default 30).',
        querystring: listQuery,
        response: { 200: z.array(logSchema), ...errorResponses(400) },
      },
    },
    async (request, reply) => {
      const { query } = request;
      const { rows, total } = await listAuditLogs(db, {
        userId: query.userId,
        applicationId: query.applicationId,
        type: query.logKey,
        from: query.start_time,
        // Logto's end_time is inclusive; listAuditLogs' `to` is exclusive.
        to: query.end_time === undefined ? undefined : query.end_time + 1,
        page: query.page,
        pageSize: query.page_size,
      });
      setTotal(reply, total);
      return rows.map(toLog);
    },
  );

  api.get(
    '/logs/:id',
    {
      schema: {
        tags: [TAG],
        operationId: 'GetLog',
        summary: 'Get one audit log record',
        params: z.object({ id: z.string().min(1).max(200) }),
        response: { 200: logSchema, ...errorResponses(404) },
      },
    },
    async (request) => {
      const record = await findAuditLog(db, request.params.id);
      if (!record) throw new NotFoundError('log', request.params.id);
      return toLog(record);
    },
  );
}
