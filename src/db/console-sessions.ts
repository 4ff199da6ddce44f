import { sessionQueries, type FirstPartySessionRow } from './first-party-sessions.ts';

/** One admin console session row (see src/console/session.ts for what the times mean). */
export type ConsoleSessionRow = FirstPartySessionRow;

/**
 * The admin console's sessions (see src/db/first-party-sessions.ts). deleteConsoleSessionsOf: every
 * console session of an account: its admin role removed, its sessions revoked, suspended.
 */
export const { insert: insertConsoleSession, find: findConsoleSession, update: updateConsoleSession, deleteOf: deleteConsoleSessionsOf, delete: deleteConsoleSession, purge: purgeConsoleSessions } =
  sessionQueries('console_sessions');
