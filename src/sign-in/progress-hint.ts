import type { FastifyReply, FastifyRequest } from 'fastify';
import type {} from '@fastify/cookie';
import type { Interaction } from 'oidc-provider';

/**
 * A hint, kept in the browser, that a sign-in has state on the server worth looking up: a code was
 * asked for, or a second factor is due. The first visit to the sign-in page (every sign-in has one)
 * then needs no database read for either; a later visit (back, reload) finds the cookie and picks up
 * where the person was. It decides nothing: without it the page just starts at the address form, and
 * every step checks the server's own state, so a forged or missing cookie changes no outcome.
 */
export const PROGRESS_COOKIE = '_sesame_progress';

export function createProgressHint(secure: boolean, now: () => number) {
  return {
    /** This browser did something in the interaction that left state on the server. */
    mark(reply: FastifyReply, interaction: Interaction): void {
      reply.setCookie(PROGRESS_COOKIE, interaction.uid, {
        // The interaction's own pages only, for as long as the interaction lives.
        path: `/interaction/${interaction.uid}`,
        httpOnly: true,
        sameSite: 'lax',
        secure,
        maxAge: Math.max(1, interaction.exp - Math.floor(now() / 1000)),
      });
    },

    /** Whether `mark` was called for this interaction in this browser. */
    marked(request: FastifyRequest, uid: string): boolean {
      return request.cookies?.[PROGRESS_COOKIE] === uid;
    },
  };
}

export type ProgressHint = ReturnType<typeof createProgressHint>;
