import type { FastifyReply, FastifyRequest } from 'fastify';

/** The pages load one stylesheet and nothing else: no script, no frame, no form. */
export function helmetOptions(secure: boolean) {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
        // Over plain http (development on a LAN address) an upgrade would break the stylesheet.
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' as const },
    referrerPolicy: { policy: 'same-origin' as const },
    strictTransportSecurity: secure,
    crossOriginOpenerPolicy: secure,
  };
}

/** onSend hook: pages show who is signed in, so no cache keeps them; the stylesheet may be cached. */
export async function noStoreForPages(_request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (String(reply.getHeader('content-type') ?? '').startsWith('text/html')) reply.header('cache-control', 'no-store');
  return payload;
}
