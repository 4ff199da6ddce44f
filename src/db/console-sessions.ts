import { sessionQueries, type FirstPartySessionRow } from './first-party-sessions.ts';

/** One admin console session row (see src/console/session.ts for what the times mean). */
export type ConsoleSessionRow = FirstPartySessionRow;

const queries = sessionQueries('console_sessions');

export const insertConsoleSession = queries.insert;
export const findConsoleSession = queries.find;
/** Writes `data` and/or `lastSeenAt`; false when the session is gone (signed out elsewhere). */
export const updateConsoleSession = queries.update;
/** Every console session of an account: its admin role removed, its sessions revoked, suspended. */
export const deleteConsoleSessionsOf = queries.deleteOf;
export const deleteConsoleSession = queries.delete;
/** Removes sessions past their absolute end or idle since `idleBefore`; returns how many. */
export const purgeConsoleSessions = queries.purge;
