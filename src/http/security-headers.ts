import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet from 'helmet';
import type { Config } from '../config/index.ts';

/**
 * The one definition of Sesame's security headers. @fastify/helmet applies it to Sesame's own pages;
 * securityHeaders() applies the same to everything else Sesame answers (oidc-provider's pages under
 * /oidc, the 404 page), so every HTML response carries the same CSP, frame-ancestors/X-Frame-Options,
 * Referrer-Policy, nosniff and the rest.
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

/** Sets the headers of helmetOptions() on a raw response; built once, cheap per request. */
export function securityHeaders(config: Readonly<Config>): HeaderSetter {
  const middleware = helmet(helmetOptions(config));
  return (req, res) =>
    middleware(req, res, (error?: unknown) => {
      if (error) throw error;
    });
}
