import type { Database } from '../db/database.ts';
import { saveExperience, type Experience, type ExperienceChanges } from '../sign-in/experience.ts';
import { auditChange, type ManagementActor } from './audit.ts';

/**
 * Changes the sign-in experience (validated as a whole by saveExperience: an invalid combination
 * throws InvalidExperienceError and nothing is written) and records who did it, in one transaction.
 */
export async function updateExperience(db: Database, changes: ExperienceChanges, who: ManagementActor, codeTtlMinutes: number, now = Date.now()): Promise<Experience> {
  return db.transaction().execute(async (tx) => {
    const experience = await saveExperience(tx, changes, now, codeTtlMinutes);
    await auditChange(tx, who, 'SignInExperience.Update', {}, { fields: Object.keys(changes) });
    return experience;
  });
}
