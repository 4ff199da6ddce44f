import type { FastifyError, FastifyInstance, FastifyReply } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { isDatabaseUnavailable } from '../db/database.ts';
import { UNAVAILABLE } from '../health.ts';
import { ConflictError, InvalidInputError, NotFoundError } from '../management/errors.ts';
import { InvalidExperienceError } from '../sign-in/experience.ts';

/**
 * Every error of the management API as JSON in Logto's shape, `{ code, message }` (plus `data` for
 * validation: the field at fault): never a page and never a stack trace. Set on the /api scope,
 * so every API route and unknown /api address answers this way.
 */

/** An API refusal with its status, Logto-style code and a message for the person who sent the request. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface ValidationIssue {
  message: string;
  code?: string;
  keys?: string[];
}

/** `body.oidcClientMetadata.redirectUris[0]` from fastify's context and zod's path. */
function fieldName(context: string | undefined, instancePath: string): string {
  const where = context === 'querystring' ? 'query' : (context ?? 'body');
  const path = instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => (/^\d+$/.test(part) ? `[${part}]` : `.${part}`))
    .join('');
  return `${where}${path}`;
}

function describeIssue(issue: ValidationIssue): string {
  if (issue.code === 'unrecognized_keys' && issue.keys?.length) {
    return `${issue.keys.map((key) => `"${key}"`).join(', ')} ${issue.keys.length === 1 ? 'is' : 'are'} not supported by Sesame's API here`;
  }
  return issue.message;
}

function send(reply: FastifyReply, status: number, body: { code: string; message: string; data?: unknown; error?: string }) {
  return reply.code(status).header('cache-control', 'no-store').type('application/json; charset=utf-8').send(body);
}

export function answerApiErrors(api: FastifyInstance): void {
  api.setNotFoundHandler((request, reply) =>
    send(reply, 404, { code: 'route.not_found', message: `there is no ${request.method} ${request.url.split('?')[0]} in the management API` }),
  );
  api.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof ApiError) {
      for (const [name, value] of Object.entries(error.headers)) reply.header(name, value);
      return send(reply, error.statusCode, { code: error.code, message: error.message });
    }
    if (hasZodFastifySchemaValidationErrors(error)) {
      // fastify-type-provider-zod: keyword is zod's issue code, params the rest of the issue.
      const [first] = error.validation;
      const issue: ValidationIssue = { message: first?.message ?? 'invalid input', code: first?.keyword, keys: (first?.params as { keys?: string[] } | undefined)?.keys };
      // An issue about unknown keys sits on their parent object; name the key itself.
      const path = issue.code === 'unrecognized_keys' && issue.keys?.length === 1 ? `${first?.instancePath ?? ''}/${issue.keys[0]}` : (first?.instancePath ?? '');
      const field = fieldName(error.validationContext, path);
      return send(reply, 400, { code: 'guard.invalid_input', message: `${field}: ${describeIssue(issue)}`, data: { field } });
    }
    if (error instanceof InvalidInputError || error instanceof InvalidExperienceError) {
      return send(reply, 400, { code: 'guard.invalid_input', message: error.message });
    }
    if (error instanceof NotFoundError) return send(reply, 404, { code: 'entity.not_found', message: error.message });
    if (error instanceof ConflictError) return send(reply, 422, { code: 'entity.unique_integrity_violation', message: error.message });
    if (error.statusCode === 429) return send(reply, 429, { code: 'rate_limited', message: 'too many requests: wait a minute and try again' });
    if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
      // fastify's own refusals: a body that is not JSON, too large, a wrong content type.
      return send(reply, error.statusCode, { code: 'request.invalid', message: error.message });
    }
    if (isDatabaseUnavailable(error)) {
      request.log.error({ err: error, reason: error.reason }, `database unavailable (${error.reason}): ${error.message}`);
      reply.header('retry-after', String(UNAVAILABLE.retryAfterSeconds));
      return send(reply, 503, { code: 'temporarily_unavailable', error: 'temporarily_unavailable', message: UNAVAILABLE.message });
    }
    request.log.error({ err: error }, 'unhandled error in the management API');
    return send(reply, 500, { code: 'unknown', message: 'something went wrong; the server log has the cause' });
  });
}
