import { sessionQueries, type FirstPartySessionRow } from './first-party-sessions.ts';

/** One account page session row (see src/account/session.ts for what the times mean). */
export type AccountSessionRow = FirstPartySessionRow;

/**
 * The account page's sessions (see src/db/first-party-sessions.ts). deleteAccountSessionsOf: every
 * account page session of an account (its sessions revoked, the account suspended).
 */
export const { insert: insertAccountSession, find: findAccountSession, update: updateAccountSession, deleteOf: deleteAccountSessionsOf, delete: deleteAccountSession, purge: purgeAccountSessions } =
  sessionQueries('account_sessions');
