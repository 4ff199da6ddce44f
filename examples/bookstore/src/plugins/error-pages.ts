import type { FastifyInstance } from 'fastify';
import type { Replies } from '../replies.ts';

/** Failures and unknown paths answer with a page, never Fastify's JSON and never a stack trace. */
export function registerErrorPages(app: FastifyInstance, replies: Replies): void {
  app.setErrorHandler((error, request, reply) => {
    request.log.error({ err: error }, 'demo request failed');
    const status = (error as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      return replies.error(reply, status, { title: 'Bad request', message: 'That request could not be handled.' });
    }
    return replies.error(reply, 500, { title: 'Something went wrong', message: 'The bookstore hit an unexpected problem. Please try again.' });
  });

  app.setNotFoundHandler((_request, reply) =>
    replies.error(reply, 404, { title: 'Page not found', message: 'There is no page at this address.' }),
  );
}
