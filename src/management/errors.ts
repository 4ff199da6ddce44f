import { quoteInput } from '../lib/validation.ts';

/**
 * What a management operation refuses, whoever asked (the CLI prints one line and exits 2; the API
 * answers 400, 404 or 422 with the message as it is): messages are written for the person who made
 * the request.
 */

/** The input is malformed or out of range (API: 400). */
export class InvalidInputError extends Error {}

/** The ID names nothing (API: 404). */
export class NotFoundError extends Error {
  constructor(readonly kind: string, readonly id: string) {
    super(`no ${kind} with ID ${quoteInput(id)}`);
  }
}

/** Well-formed, but conflicts with what is stored (a taken email, a duplicate scope; API: 422). */
export class ConflictError extends Error {}
