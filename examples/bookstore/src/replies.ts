import type { FastifyReply } from 'fastify';
import type { ErrorView, Pages } from './views.ts';
import { languageOf } from './i18n.ts';

const SESAME_UNREACHABLE: ErrorView = {
  title: 'Sesame is not reachable',
  message: 'The sign-in service could not be reached right now. Please try again in a moment.',
  code: 'sesame_unreachable',
};

/** Every answer the Bookstore sends is an HTML page; these are the three ways it sends one. */
export class Replies {
  constructor(private readonly pages: Pages) {}

  page(reply: FastifyReply, status: number, html: string): FastifyReply {
    return reply.code(status).type('text/html; charset=utf-8').send(html);
  }

  error(reply: FastifyReply, status: number, view: ErrorView): FastifyReply {
    return this.page(reply, status, this.pages.error(view, languageOf(reply.request)));
  }

  sesameUnreachable(reply: FastifyReply): FastifyReply {
    return this.error(reply, 503, SESAME_UNREACHABLE);
  }
}
