import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Config } from '../config/index.ts';
import { JWKS_MAX_AGE_SECONDS } from '../oidc/keys.ts';
import type { KeyRing } from '../oidc/key-ring.ts';
import { securityHeaders } from './security-headers.ts';
import { oidcRateLimiter, refuseOverBudget } from './oidc-rate-limits.ts';
import { clientAddressOf } from '../lib/request.ts';

/**
 * Discovery changes only when Sesame is upgraded or reconfigured (and jwks_uri never does), so
 * relying parties may keep it an hour.
 */
export const DISCOVERY_MAX_AGE_SECONDS = 3600;

export interface OidcMountDeps {
  config: Readonly<Config>;
  provider: Provider;
  keyRing: Pick<KeyRing, 'jwks'>;
  /** The HTTP server's way to oidc-provider around fastify (oidcFastLane, given to Fastify as its serverFactory). */
  lane: OidcFastLane;
}

const OIDC_PREFIX = /^\/oidc(?=[/?]|$)/;

/** What oidc-provider's koa app answers a request with (its callback(), under /oidc). */
type RawHandler = (req: IncomingMessage, res: ServerResponse) => void;
/** A request under /oidc taken before fastify; `fastify` is the app's own handler, for what the lane does not answer. */
type LaneHandler = (req: IncomingMessage, res: ServerResponse, fastify: RawHandler) => void;

/** Set on a raw request the fast lane found over its budget, for the fastify route to answer (with the app's error page). */
const OVER_BUDGET = Symbol('seconds until the /oidc budget frees up');
type LaneRequest = IncomingMessage & { ip?: string; [OVER_BUDGET]?: number };

/**
 * The HTTP server for buildApp (fastify's serverFactory): requests under /oidc go straight to
 * oidc-provider (mountOidc's lane), the rest to fastify. oidc-provider is a koa app answering from
 * its own routes, so fastify's routing, hooks and request objects would be pure overhead on the
 * requests apps make most (token, userinfo, discovery, JWKS) and on every sign-in's redirects:
 * measured, they cost as much CPU as a discovery answer itself. Until mountOidc opens the lane
 * (and for anything it hands back), fastify's handler serves, through the /oidc routes below.
 */
export function oidcFastLane() {
  let lane: LaneHandler | undefined;
  const serverFactory = (fastify: RawHandler) => {
    const server = createServer((req, res) => (lane && OIDC_PREFIX.test(req.url ?? '') ? lane(req, res, fastify) : fastify(req, res)));
    // fastify's own default, which it sets only on a server it creates.
    server.keepAliveTimeout = 72_000;
    return server;
  };
  return { serverFactory, open: (handler: LaneHandler) => void (lane = handler) };
}
export type OidcFastLane = ReturnType<typeof oidcFastLane>;

/**
 * Mounts oidc-provider at /oidc with what fastify's route-level plugins would give a route: the
 * security headers of our pages, per-IP rate limits (src/http/oidc-rate-limits.ts), the client
 * address as TRUST_PROXY says, request logs, and caching headers (plus a JWKS that publishes keys
 * stored since the start). Requests come through `lane` (see oidcFastLane), or through fastify
 * routes for /oidc and /oidc/*: those serve app.inject() (the console and the account page ask the
 * token endpoint that way) and answer what the lane hands back (a request over its budget, or
 * one that arrives while the server closes). Call after @fastify/rate-limit is registered.
 */
export async function mountOidc(app: FastifyInstance, { config, provider, keyRing, lane }: OidcMountDeps): Promise<void> {
  const setSecurityHeaders = securityHeaders(config);
  const limitOidc = oidcRateLimiter(app, config.limits.requestsPerIpPerMinute);
  // No cache may keep the JWKS longer than a rotated key waits before it signs.
  const jwksMaxAge = Math.min(JWKS_MAX_AGE_SECONDS, Math.floor(config.signingKeyGraceMs / 1000));

  // Unknown addresses get the security headers here (they have no route); the routes in the pages
  // scope get the same from addSecurityHeaders, and /oidc from serve below.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) setSecurityHeaders(request.raw, reply.raw);
    done();
  });

  provider.use(async (ctx, next) => {
    // The client address as TRUST_PROXY says (see serve), for oidc-provider's own uses of ctx.ip.
    const ip = (ctx.req as LaneRequest).ip;
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

  const oidc = provider.callback();
  const publicHost = new URL(config.endpoint).host;
  /** A request's URL under /oidc, query included, as oidc-provider and the rate limits see it ("/oidc?x" is "/?x"). */
  const underOidc = (url: string) => {
    const path = url.replace(OIDC_PREFIX, '');
    return path.startsWith('/') ? path : `/${path}`;
  };
  /**
   * Hands a request under /oidc (at `path`, from underOidc), already counted and with its security
   * headers set, to oidc-provider. oidc-provider builds its endpoint URLs from the request. ENDPOINT is
   * the public address by contract, so requests are presented as addressed to it: discovery never
   * leaks an internal host a proxy forwarded to, nor echoes a forged Host (or, with TRUST_PROXY,
   * X-Forwarded-Host/-Proto) header. Sesame serves plain HTTP, so an https
   * ENDPOINT means TLS ends at a proxy; koa would refuse to set Secure cookies on what it believes is
   * http and fail every sign-in, so such requests are marked as the https they are for the browser.
   */
  const serve = (req: LaneRequest, res: ServerResponse, ip: string, path: string) => {
    req.ip = ip;
    // As a mounted app sees it: oidc-provider finds its mount path (/oidc) from originalUrl.
    (req as LaneRequest & { originalUrl?: string }).originalUrl = req.url;
    req.url = path;
    req.headers.host = publicHost;
    delete req.headers['x-forwarded-host'];
    delete req.headers['x-forwarded-proto'];
    if (config.secureCookies) (req.socket as TLSSocket).encrypted = true;
    return oidc(req, res);
  };

  // Through fastify: app.inject(), and what the lane hands back.
  const viaFastify = async (request: FastifyRequest, reply: FastifyReply) => {
    setSecurityHeaders(request.raw, reply.raw);
    // An encoded prefix (/%6Fidc/...) that the router decoded: not an address of ours.
    if (!OIDC_PREFIX.test(request.url)) return reply.callNotFound();
    const path = underOidc(request.url);
    const raw = request.raw as LaneRequest;
    const retryAfter = raw[OVER_BUDGET] ?? (await limitOidc(request.ip, path));
    if (retryAfter !== undefined) return refuseOverBudget(reply, path, retryAfter);
    reply.hijack();
    await serve(raw, reply.raw, request.ip, path);
  };
  const unreachable = async () => undefined; // viaFastify always answers in onRequest
  for (const url of ['/oidc', '/oidc/*']) app.all(url, { config: { rateLimit: false }, onRequest: viaFastify }, unreachable);

  // The lane: straight to oidc-provider once within the budget.
  const clientAddress = clientAddressOf(config.trustProxy);
  const log = requestLog(app);
  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    done();
  });
  lane.open((req: LaneRequest, res, fastify) => {
    // While closing, fastify answers 503 (and closes the connection).
    if (closing) return fastify(req, res);
    const ip = clientAddress(req);
    const path = underOidc(req.url!);
    limitOidc(ip, path).then(
      (retryAfter) => {
        if (retryAfter !== undefined) {
          req[OVER_BUDGET] = retryAfter;
          return fastify(req, res);
        }
        setSecurityHeaders(req, res);
        log(req, res, ip);
        return serve(req, res, ip, path);
      },
      // The budget could not be counted: fastify's route counts again, and its error handler answers (and logs).
      () => fastify(req, res),
    );
  });
}

/**
 * fastify's two info lines per request ("incoming request", "request completed"), for requests it
 * never sees; a no-op unless the log level shows them.
 */
function requestLog(app: FastifyInstance) {
  let next = 0;
  return (req: IncomingMessage, res: ServerResponse, ip: string) => {
    if (!(app.log as FastifyBaseLogger & Partial<Pick<Logger, 'isLevelEnabled'>>).isLevelEnabled?.('info')) return;
    const started = performance.now();
    const log = app.log.child({ reqId: `oidc-${(next += 1).toString(36)}` });
    // Shaped like the fastify request the log's `req` serializer reads (src/http/log-redaction.ts).
    log.info({ req: { method: req.method, url: req.url, headers: req.headers, host: req.headers.host, ip, socket: req.socket } }, 'incoming request');
    res.once('finish', () => log.info({ res: { statusCode: res.statusCode }, responseTime: performance.now() - started }, 'request completed'));
  };
}
