import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { FastifyRequest, FastifyServerOptions } from 'fastify';
import type { TrustProxy } from '../config/index.ts';

/**
 * TRUST_PROXY as fastify's `trustProxy`. Addresses/CIDRs go through as they are. fastify 5 no longer
 * honours a bare hop count (it fails closed and trusts nothing), so a count N becomes the equivalent
 * trust function: the N addresses nearest to Sesame (the socket peer, then X-Forwarded-For from the
 * right) are proxies, and the client is the next one. Whatever a client puts further left is never
 * looked at, so a forged first entry changes nothing.
 */
export function fastifyTrustProxy(trust: TrustProxy): FastifyServerOptions['trustProxy'] {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return [...trust];
}

/**
 * fastify's request.ip for a raw request, for requests fastify never sees (src/http/oidc.ts): the same
 * trust (fastifyTrustProxy) through the same @fastify/proxy-addr, so both answer alike.
 */
export function clientAddressOf(trust: TrustProxy): (req: IncomingMessage) => string {
  const trusted = fastifyTrustProxy(trust);
  if (trusted === false || trusted === undefined) return (req) => req.socket.remoteAddress ?? '';
  const isProxy = typeof trusted === 'function' ? trusted : proxyAddr.compile(trusted as string[]);
  return (req) => proxyAddr(req, isProxy);
}

/**
 * The client address rate limits and code caps are keyed on: fastify's request.ip, which follows
 * TRUST_PROXY through X-Forwarded-For. An IPv4 address seen on a dual-stack socket
 * (::ffff:203.0.113.7) counts as the IPv4 address, so both forms share one budget.
 */
export const clientIp = (request: FastifyRequest): string => {
  const ip = request.ip || 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
};
