import type { FastifyRequest } from 'fastify';

/**
 * Secrets that travel in URLs and must not reach the log: the sign-in link's token
 * (/interaction/:uid/link?t=..., src/sign-in/routes/link.ts). Anything else in the URL stays, so
 * the log still says which page was asked for.
 */
export function redactUrl(url: string): string {
  if (!url.startsWith('/interaction/')) return url;
  return url.replace(/([?&]t=)[^&#]*/g, '$1[redacted]');
}

/** Fastify's own request serializer, with the URL redacted. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    version: request.headers?.['accept-version'],
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The logger options with the request serializer above (an operator's own serializers otherwise kept). */
export function withRedactedRequests(logger: boolean | object): boolean | object {
  if (logger === false) return false;
  const options = logger === true ? {} : (logger as { serializers?: Record<string, unknown> });
  return { ...options, serializers: { ...options.serializers, req: serializeRequest } };
}
