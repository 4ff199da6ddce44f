import fastifyHelmet from '@fastify/helmet';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { DemoContext } from './context.ts';
import { lazyDiscovery } from './oidc.ts';
import { registerErrorPages } from './plugins/error-pages.ts';
import { helmetOptions, noStoreForPages } from './plugins/security.ts';
import { registerSessions } from './plugins/session.ts';
import { demoRedirectUris, trimTrailingSlash } from './registration.ts';
import { Replies } from './replies.ts';
import { pageRoutes } from './routes/pages.ts';
import { profileRoutes } from './routes/profile.ts';
import { signInRoutes } from './routes/sign-in.ts';
import { signOutRoutes } from './routes/sign-out.ts';
import type { DemoStore } from './store.ts';
import { Pages } from './views.ts';

export interface DemoOptions {
  baseUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  store: DemoStore;
  mailboxUrl?: string;
  logger?: boolean | object;
}

/**
 * The Bookstore: a plain OIDC relying party that signs people in with Sesame. Builds only; never
 * listens (start.ts does). Security headers, sessions and error pages apply to every route module.
 */
export async function buildDemoApp(options: DemoOptions): Promise<FastifyInstance> {
  const baseUrl = trimTrailingSlash(options.baseUrl);
  const secure = new URL(baseUrl).protocol === 'https:';
  const context = demoContext(options, baseUrl);

  const app = Fastify({
    logger: (options.logger ?? false) as FastifyServerOptions['logger'],
    // On https the app sits behind a TLS-terminating proxy; without this the session plugin
    // sees plain http and refuses to set its Secure cookie.
    trustProxy: secure,
  });

  await app.register(fastifyHelmet, helmetOptions(secure));
  await registerSessions(app, options.store, secure);
  app.addHook('onSend', noStoreForPages);
  registerErrorPages(app, context.replies);

  for (const routes of [pageRoutes, signInRoutes, profileRoutes, signOutRoutes]) {
    await app.register(routes, context);
  }
  return app;
}

function demoContext(options: DemoOptions, baseUrl: string): DemoContext {
  const { callback, home } = demoRedirectUris(baseUrl);
  const pages = new Pages({ mailboxUrl: options.mailboxUrl });
  return {
    clientId: options.clientId,
    redirectUri: callback,
    homeUrl: home,
    oidcConfig: lazyDiscovery(options),
    pages,
    replies: new Replies(pages),
  };
}
