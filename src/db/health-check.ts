import type { Queryable } from './database.ts';

/** Rewrites the one row of health_check: a committed write, which only a database that can serve sign-ins takes. */
export async function writeHealthCheck(db: Queryable, at: number): Promise<void> {
  await db
    .insertInto('health_check')
    .values({ id: 1, checked_at: at })
    .onConflict((conflict) => conflict.column('id').doUpdateSet((eb) => ({ checked_at: eb.ref('excluded.checked_at') })))
    .execute();
}
