import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { FastifyInstance } from 'fastify';
import middie from '@fastify/middie';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { JWKS_MAX_AGE_SECONDS } from '../oidc/keys.ts';
import type { KeyRing } from '../oidc/key-ring.ts';
import { securityHeaders } from './security-headers.ts';
import { oidcRateLimiter } from './oidc-rate-limits.ts';

/**
 * Discovery changes only when Sesame is upgraded or reconfigured (and jwks_uri never does), so
 * relying parties may keep it an hour.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 3600;

export interface OidcMountDeps {
  config: Readonly<Config>;
  provider: Provider;
  keyRing: Pick<KeyRing, 'jwks'>;
}

const OIDC_PREFIX = /^\/oidc(?=[/?]|$)/;

/**
 * Mounts oidc-provider at /oidc through middie, with what fastify's route-level plugins cannot give
 * a request that has no fastify route: the security headers of our pages, per-IP rate limits, and
 * caching headers (plus a JWKS that publishes keys stored since the start). Call after
 * @fastify/rate-limit is registered and before anything else registers middie.
 */
export async function mountOidc(app: FastifyInstance, { config, provider, keyRing }: OidcMountDeps): Promise<void> {
  const setSecurityHeaders = securityHeaders(config);
  const limitOidc = oidcRateLimiter(app, config.limits.requestsPerIpPerMinute);
  // No cache may keep the JWKS longer than a rotated key waits before it signs.
  const jwksMaxAge = Math.min(JWKS_MAX_AGE_SECONDS, Math.floor(config.signingKeyGraceMs / 1000));

  // Added before middie registers its own onRequest hook, so it runs first. Requests without a fastify
  // route (everything under /oidc, and unknown addresses) get the security headers here; the routes in
  // the pages scope get the same from addSecurityHeaders.
  app.addHook('onRequest', async (request, reply) => {
    if (!request.is404) return;
    setSecurityHeaders(request.raw, reply.raw);
    if (!OIDC_PREFIX.test(request.url)) return;
    if (!(await limitOidc(request, reply, request.url.replace(OIDC_PREFIX, '') || '/'))) return reply;
  });

  provider.use(async (ctx, next) => {
    // fastify's verdict on the client address (TRUST_PROXY), which middie copies onto the raw request.
    const ip = (ctx.req as IncomingMessage & { ip?: string }).ip;
    if (ip) ctx.request.ip = ip;
    await next();
    if ((ctx.method !== 'GET' && ctx.method !== 'HEAD') || ctx.status !== 200) return;
    if (ctx.path === '/jwks') {
      // Same shape as oidc-provider's own, plus the keys stored since the start (see key-ring.ts).
      ctx.body = await keyRing.jwks();
      ctx.set('cache-control', `public, max-age=${jwksMaxAge}`);
    } else if (ctx.path === '/.well-known/openid-configuration') {
      ctx.set('cache-control', `public, max-age=${DISCOVERY_MAX_AGE_SECONDS}`);
    }
  });

  await app.register(middie);
  const oidc = provider.callback();
  const publicHost = new URL(config.endpoint).host;
  // oidc-provider builds its endpoint URLs from the request. ENDPOINT is the public address by
  // contract, so requests are presented as addressed to it: discovery never leaks an internal host a
  // proxy forwarded to, nor echoes a forged Host (or, with TRUST_PROXY, X-Forwarded-Host/-Proto)
  // header. Sesame serves plain HTTP, so an https ENDPOINT means TLS ends at a proxy; koa would refuse
  // to set Secure cookies on what it believes is http and fail every sign-in, so such requests are
  // marked as the https they are for the browser.
  app.use('/oidc', (req: IncomingMessage, res: ServerResponse) => {
    req.headers.host = publicHost;
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-proto'];
    if (config.secureCookies) (req.socket as TLSSocket).encrypted = true;
    return oidc(req, res);
  });
}
