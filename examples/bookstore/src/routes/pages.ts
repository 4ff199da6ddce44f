import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';
import type { DemoContext } from '../context.ts';

/** The home page (signed in or not) and the one stylesheet, read once at build time. */
export const pageRoutes: FastifyPluginAsync<DemoContext> = async (app, ctx) => {
  const css = await readFile(new URL('../../public/bookstore.css', import.meta.url), 'utf8');

  app.get('/bookstore.css', (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(css),
  );

  app.get('/', (request, reply) => {
    const user = request.session.get('bookstoreUser');
    return ctx.replies.page(reply, 200, user ? ctx.pages.signedIn(user.claims) : ctx.pages.signedOut());
  });
};
