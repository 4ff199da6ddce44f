import type { FastifyRequest } from 'fastify';

/** The client address rate limits are keyed on (fastify honours TRUST_PROXY for X-Forwarded-For). */
export const clientIp = (request: FastifyRequest): string => request.ip || 'unknown';
