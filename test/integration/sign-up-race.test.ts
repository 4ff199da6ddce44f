import { describe, expect, it } from 'vitest';
import { onceMoreIfSignedUpMeanwhile, signInVerifiedEmail } from '../../src/sign-in/accounts.ts';
import { findCode, saveCode } from '../../src/db/verification.ts';
import { findUserByEmail } from '../../src/db/users.ts';
import { codeRecord, useEngineDatabase } from '../helpers/sesame.ts';

/**
 * A verified address's account writes are made in the transaction that completes the sign-in
 * (kit.completeSignIn). When the same new address signs up in another tab between this one's lookup
 * and its commit, the insert fails on the unique address, the whole transaction is rolled back, and
 * onceMoreIfSignedUpMeanwhile runs the step again: it then finds the account and signs in to it.
 * On both engines (the unique violation comes from each one's own driver).
 */
describe('a sign-up that loses its address to another tab', () => {
  const engine = useEngineDatabase('sesame-sign-up-race-');

  it('rolls back its whole step, then signs in to the account the other tab made', async () => {
    const { db } = engine.current;
    const email = 'race@example.com';
    const now = Date.now();
    const runs: boolean[] = [];
    let otherTab: string | undefined;
    const signedIn = await onceMoreIfSignedUpMeanwhile(async () => {
      const outcome = await signInVerifiedEmail(db, email, { allowSignUp: true, now });
      if (!outcome) throw new Error('sign-up is open');
      runs.push(outcome.created);
      if (!otherTab) {
        // The other tab signs up now, after this one looked the address up.
        const other = await signInVerifiedEmail(db, email, { allowSignUp: true, now });
        await db.transaction().execute((tx) => other!.write(tx));
        otherTab = other!.user.id;
      }
      // The step's own write (here a code row, as the grant and interaction result are in the real
      // one) goes in the same transaction as the account's, before it.
      await db.transaction().execute(async (tx) => {
        await saveCode(tx, codeRecord(`step-${runs.length}`, email));
        await outcome.write(tx);
      });
      return outcome.user.id;
    });
    expect(runs).toEqual([true, false]);
    expect(signedIn).toBe(otherTab);
    expect((await findUserByEmail(db, email))?.id).toBe(otherTab);
    // Nothing of the first run's step was kept; the second run's was.
    expect(await findCode(db, 'step-1', 'sign-in')).toBeUndefined();
    expect(await findCode(db, 'step-2', 'sign-in')).toBeDefined();
  });

  it('lets any other failure through, without a second run', async () => {
    let runs = 0;
    const failure = new Error('SMTP is down');
    await expect(
      onceMoreIfSignedUpMeanwhile(async () => {
        runs += 1;
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect(runs).toBe(1);
  });
});
