import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { DemoContext } from '../context.ts';
import { isLanguage, LANGUAGE_COOKIE, languageOf } from '../i18n.ts';

/** The home page (signed in or not) and the one stylesheet, read once at build time. */
export const pageRoutes: FastifyPluginAsync<DemoContext> = async (app, ctx) => {
  const css = await readFile(new URL('../../public/bookstore.css', import.meta.url), 'utf8');

  app.get('/bookstore.css', (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css),
  );

  app.get('/', (request, reply) => {
    const user = request.session.get('bookstoreUser');
    const language = languageOf(request);
    return ctx.replies.page(reply, 200, user ? ctx.pages.signedIn(user.claims, language, '/') : ctx.pages.signedOut(language, '/'));
  });

  // The switcher: remembers the pick for a year and goes back to the page (a path here, never another site).
  app.get<{ Params: { language: string }; Querystring: { return?: unknown } }>('/language/:language', (request, reply) => {
    const back = typeof request.query.return === 'string' && /^\/(?![/\\])[^\s\\]{0,500}$/.test(request.query.return) ? request.query.return : '/';
    if (isLanguage(request.params.language)) {
      reply.setCookie(LANGUAGE_COOKIE, request.params.language, { path: '/', sameSite: 'lax', httpOnly: true, secure: request.protocol === 'https', maxAge: 365 * 24 * 3600 });
    }
    return reply.redirect(back, 303);
  });
};
