import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** The endpoint classes under /oidc that each get their own per-IP budget. */
export type OidcEndpointClass = 'metadata' | 'token' | 'auth' | 'other';

/**
 * Requests per minute per client IP for each class, derived from RATE_LIMIT_PER_MINUTE (the budget of
 * Sesame's own pages) so one variable scales them all (the benchmarks set it to a million):
 * - metadata (discovery, JWKS): the full budget. Cheap, cacheable (Cache-Control), and what every
 *   relying party and API fetches.
 * - token: half. Called by app servers, which sign in (and refresh for) all their users from one
 *   address; client secrets and codes are too long to guess, so this only caps the load.
 * - auth (/oidc/auth and its resumes): a fifth. A person's browser makes two or three of these per
 *   sign-in; a script opening interactions by the hundred is not a person.
 * - other (userinfo, introspection, revocation, session/end, anything else): half.
 */
export function oidcBudgets(perMinute: number): Record<OidcEndpointClass, number> {
  const share = (divisor: number) => Math.max(1, Math.floor(perMinute / divisor));
  return { metadata: share(1), token: share(2), auth: share(5), other: share(2) };
}

/** `path` is the request URL under /oidc, query included (e.g. "/token", "/auth?client_id=..."). */
export function classifyOidcPath(path: string): OidcEndpointClass {
  const pathname = path.split('?', 1)[0]!;
  if (pathname === '/jwks' || pathname.startsWith('/.well-known/')) return 'metadata';
  if (pathname === '/token') return 'token';
  if (pathname === '/auth' || pathname.startsWith('/auth/')) return 'auth';
  return 'other';
}

/** Pages a person's browser opens: these answer 429 with the readable HTML error page. */
const isBrowserPath = (pathname: string) => pathname === '/auth' || pathname.startsWith('/auth/') || pathname.startsWith('/session/end');

/**
 * Returns an onRequest-time check for requests under /oidc, built on @fastify/rate-limit's own
 * counters (app.createRateLimit: one store per class, its groupId apart from the global limit's,
 * keyed like the global limit on the client IP, which follows TRUST_PROXY; shared by instances on
 * PostgreSQL, see src/http/rate-limit-store.ts). Requests under /oidc mostly reach oidc-provider
 * before fastify (src/http/oidc.ts), so the plugin's per-route hooks never see them. Past a budget:
 * refuseOverBudget answers.
 */
export function oidcRateLimiter(app: FastifyInstance, perMinute: number) {
  const budgets = oidcBudgets(perMinute);
  const limiter = (name: OidcEndpointClass) => {
    // groupId names the class in a shared store's keys (src/http/rate-limit-store.ts); the plugin
    // passes it through to the store's child() but leaves it out of this options type.
    const options = { max: budgets[name], timeWindow: 60_000, groupId: `oidc-${name}` };
    return app.createRateLimit(options);
  };
  const limiters = Object.fromEntries((Object.keys(budgets) as OidcEndpointClass[]).map((name) => [name, limiter(name)])) as Record<
    OidcEndpointClass,
    ReturnType<FastifyInstance['createRateLimit']>
  >;

  /**
   * Counts one request from `ip` to `path` (under /oidc, query included) against its class's budget:
   * undefined while within it, else the seconds until the budget frees up. The check only needs the
   * address, so it also serves requests that reach oidc-provider without a fastify request.
   */
  return function limitOidc(ip: string, path: string): Promise<number | undefined> {
    const request = { ip, url: `/oidc${path}`, routeOptions: { config: {} } } as unknown as FastifyRequest;
    // then(), not an async function: every request under /oidc comes here, and each promise costs.
    return limiters[classifyOidcPath(path)](request).then((result) => (result.isAllowed || !result.isExceeded ? undefined : Math.max(1, result.ttlInSeconds)));
  };
}

/**
 * The 429 for a request over its /oidc budget (see oidcRateLimiter), with Retry-After: an OAuth-style
 * JSON error for programs; for the pages a person's browser opens, an error with statusCode 429 is
 * thrown, which the app's error handler turns into its "Too many requests" page.
 */
export async function refuseOverBudget(reply: FastifyReply, path: string, retryAfter: number): Promise<void> {
  reply.header('retry-after', String(retryAfter));
  if (isBrowserPath(path.split('?', 1)[0]!)) {
    throw Object.assign(new Error(`Too many requests; retry in ${retryAfter} s`), { statusCode: 429 });
  }
  await reply
    .code(429)
    .header('cache-control', 'no-store')
    .type('application/json; charset=utf-8')
    .send({ error: 'rate_limited', error_description: `too many requests from this address; retry in ${retryAfter} s` });
}
