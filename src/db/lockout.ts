import type { Queryable } from './database.ts';
import { prepared } from './prepared.ts';
import { countInWindow, type EventSubject } from './event-window.ts';

export async function insertFailure(db: Queryable, failure: { id: string; email: string; ip: string; failedAt: number }): Promise<void> {
  await db.insertInto('sign_in_failures').values({ id: failure.id, email: failure.email, ip: failure.ip, failed_at: failure.failedAt }).execute();
}

export const countFailures = (db: Queryable, subject: EventSubject, since: number) => countInWindow(db, 'sign_in_failures', subject, since);

const clearPair = prepared((db, p: { email: string; ip: string }) =>
  db.deleteFrom('sign_in_failures').where('email', '=', p.email).where('ip', '=', p.ip),
);

/** Forgets failures of an address, from one IP or (without `ip`) from everywhere. */
export async function clearFailures(db: Queryable, email: string, ip?: string): Promise<void> {
  if (ip === undefined) await db.deleteFrom('sign_in_failures').where('email', '=', email).execute();
  else await clearPair(db, { email, ip });
}

export interface LockRow {
  level: number;
  locked_until: number;
}

const selectLock = prepared((db, p: { subject: string }) =>
  db.selectFrom('sign_in_locks').select(['level', 'locked_until']).where('subject', '=', p.subject),
);

export async function findLock(db: Queryable, subject: string): Promise<LockRow | undefined> {
  return (await selectLock(db, { subject })).rows[0];
}

export async function saveLock(db: Queryable, subject: string, email: string, level: number, lockedUntil: number, at: number): Promise<void> {
  await db
    .insertInto('sign_in_locks')
    .values({ subject, email, level, locked_until: lockedUntil, updated_at: at })
    .onConflict((conflict) =>
      conflict.column('subject').doUpdateSet((eb) => ({
        level: eb.ref('excluded.level'),
        locked_until: eb.ref('excluded.locked_until'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
    .execute();
}

/** What a sign-in attempt is checked against, read in one statement (it runs before every guess). */
export interface StoredLockState {
  /** The end of the address+IP pair's lock, if it has one. */
  pairUntil: number | null;
  /** The end of the address's own lock, if it has one. */
  addressUntil: number | null;
  /** The IP's failures since `since`, and the oldest of them. */
  ipFailures: number;
  ipOldest: number | null;
  /** Whether the address+IP pair has failures on record (at any time): a success from there clears them. */
  pairFailures: boolean;
}

const selectLockState = prepared((db, p: { pair: string; address: string; ip: string; since: number; email: string }) =>
  db.selectNoFrom((eb) => [
    eb.selectFrom('sign_in_locks').select('locked_until').where('subject', '=', p.pair).as('pair_until'),
    eb
      .selectFrom('sign_in_failures')
      .select((inner) => inner.lit(1).as('one'))
      .where('email', '=', p.email)
      .where('ip', '=', p.ip)
      .limit(1)
      .as('pair_failures'),
    eb.selectFrom('sign_in_locks').select('locked_until').where('subject', '=', p.address).as('address_until'),
    eb
      .selectFrom('sign_in_failures')
      .select((inner) => inner.fn.countAll().as('n'))
      .where('ip', '=', p.ip)
      .where('failed_at', '>=', p.since)
      .as('ip_failures'),
    eb
      .selectFrom('sign_in_failures')
      .select((inner) => inner.fn.min('failed_at').as('m'))
      .where('ip', '=', p.ip)
      .where('failed_at', '>=', p.since)
      .as('ip_oldest'),
  ]),
);

export async function readLockState(
  db: Queryable,
  p: { pair: string; address: string; ip: string; since: number; email: string },
): Promise<StoredLockState> {
  const row = (await selectLockState(db, p)).rows[0];
  // COUNT and MIN of a BIGINT come back as numbers from SQLite and as strings from PostgreSQL.
  const number = (value: unknown) => (value === null || value === undefined ? null : Number(value));
  return {
    pairUntil: number(row?.pair_until),
    addressUntil: number(row?.address_until),
    ipFailures: number(row?.ip_failures) ?? 0,
    ipOldest: number(row?.ip_oldest),
    pairFailures: row?.pair_failures != null,
  };
}

const removeLock = prepared((db, p: { subject: string }) => db.deleteFrom('sign_in_locks').where('subject', '=', p.subject));

export async function deleteLock(db: Queryable, subject: string): Promise<void> {
  await removeLock(db, { subject });
}

/** Every lock of an address (its own and its pairs): for deleting an account. */
export async function deleteLocksOf(db: Queryable, email: string): Promise<void> {
  await db.deleteFrom('sign_in_locks').where('email', '=', email).execute();
}

export async function purgeFailures(db: Queryable, before: number): Promise<void> {
  await db.deleteFrom('sign_in_failures').where('failed_at', '<', before).execute();
  await db.deleteFrom('sign_in_locks').where('locked_until', '<', before).where('updated_at', '<', before).execute();
}
