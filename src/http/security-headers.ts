import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet from 'helmet';
import type { Config } from '../config/index.ts';

/**
 * The one definition of Sesame's security headers, applied by securityHeaders(): to Sesame's own
 * pages, the console and the API (addSecurityHeaders, per scope) and to everything else Sesame answers
 * (oidc-provider's pages under /oidc, the 404 page), so every HTML response carries the same CSP,
 * frame-ancestors/X-Frame-Options, Referrer-Policy, nosniff and the rest.
 *
 * script-src is 'self' only: our pages load /assets/sesame.js and have no inline script.
 * oidc-provider's self-submitting pages (form_post, sign-out without a session) each carry one inline
 * script, and oidc-provider adds that script's sha256 to the script-src of the response it renders,
 * as long as the CSP header is already set when it renders: securityHeaders() runs before it.
 */
export function helmetOptions(config: Readonly<Config>) {
  return {
    contentSecurityPolicy: {
      directives: {
        // Chrome applies form-action to the redirects after a POST, and our forms end by redirecting
        // to each app's own redirect URI (form_post posts there too), so the directive would block
        // every sign-in.
        formAction: null,
        imgSrc: ["'self'", 'data:'],
        // Over plain http (development on a LAN address) an upgrade would break every asset and form.
        upgradeInsecureRequests: config.secureCookies ? [] : null,
      },
    },
    strictTransportSecurity: config.secureCookies,
    crossOriginOpenerPolicy: config.secureCookies,
    // Apps on other origins embed nothing of ours; keep the default strict isolation.
    crossOriginEmbedderPolicy: false,
  };
}

export type HeaderSetter = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * Sets the headers of helmetOptions() on a raw response. helmet works them out on every call (it
 * re-reads the CSP directives each time), yet with these options they never depend on the request:
 * they are computed by helmet once, here, and each request only copies them.
 */
export function securityHeaders(config: Readonly<Config>): HeaderSetter {
  const headers = computeHeaders(helmetOptions(config));
  return (_req, res) => {
    for (const [name, value] of headers) res.setHeader(name, value);
  };
}

/** What helmet sets with `options`, captured from one run of its middleware against a stand-in response. */
function computeHeaders(options: ReturnType<typeof helmetOptions>): [string, string][] {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) => void headers.set(name, String(value)),
    removeHeader: (name: string) => void headers.delete(name),
  };
  let failure: unknown;
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (error?: unknown) => {
    failure = error;
  });
  if (failure) throw failure;
  return [...headers];
}

/** The security headers on every response of a fastify scope (what @fastify/helmet would do, computed once). */
export function addSecurityHeaders(scope: FastifyInstance, config: Readonly<Config>): void {
  const setHeaders = securityHeaders(config);
  scope.addHook('onRequest', (request, reply, done) => {
    setHeaders(request.raw, reply.raw);
    done();
  });
}
