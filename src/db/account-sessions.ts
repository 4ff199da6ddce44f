import { sessionQueries, type FirstPartySessionRow } from './first-party-sessions.ts';

/** One account page session row (see src/account/session.ts for what the times mean). */
export type AccountSessionRow = FirstPartySessionRow;

const queries = sessionQueries('account_sessions');

export const insertAccountSession = queries.insert;
export const findAccountSession = queries.find;
/** Writes `data` and/or `lastSeenAt`; false when the session is gone (signed out elsewhere). */
export const updateAccountSession = queries.update;
/** Every account page session of an account (its sessions revoked, the account suspended). */
export const deleteAccountSessionsOf = queries.deleteOf;
export const deleteAccountSession = queries.delete;
/** Removes sessions past their absolute end or idle since `idleBefore`; returns how many. */
export const purgeAccountSessions = queries.purge;
