import { sql } from 'kysely';
import type { Queryable } from './database.ts';
import { AuditType } from '../audit/log.ts';

/** What the admin console's overview charts count, each one kind of audit event. */
export type ActivityKind = 'signIns' | 'signUps' | 'failedAttempts' | 'mailFailures';

const FAILED_GUESSES = [AuditType.SignInCodeSubmit, AuditType.RegisterCodeSubmit, AuditType.ForgotPasswordCodeSubmit, AuditType.PasswordSubmit];
const CODE_SENDS = [AuditType.SignInCodeSent, AuditType.RegisterCodeSent, AuditType.ForgotPasswordCodeSent];

/**
 * Audit events of each kind per time bucket in [from, to): bucket i covers [from + i*size, from +
 * (i+1)*size). One grouped query over the audit_logs_type index, whatever the number of events.
 * A mail delivery failure is a code send the SMTP server refused or never took (reason
 * delivery_failed or address_refused), not a cooldown or a rate limit.
 */
export async function countActivity(db: Queryable, from: number, to: number, size: number): Promise<{ kind: ActivityKind; bucket: number; count: number }[]> {
  const types = [AuditType.SignIn, AuditType.Register, ...FAILED_GUESSES, ...CODE_SENDS];
  const kind = sql<ActivityKind | null>`case
    when type = ${AuditType.SignIn} and result = 'success' then 'signIns'
    when type = ${AuditType.Register} and result = 'success' then 'signUps'
    when type in (${sql.join(FAILED_GUESSES)}) and result = 'failure' then 'failedAttempts'
    when type in (${sql.join(CODE_SENDS)}) and result = 'failure'
      and (data like '%"reason":"delivery_failed"%' or data like '%"reason":"address_refused"%') then 'mailFailures'
  end`;
  // better-sqlite3 binds numbers as REAL, so SQLite would divide exactly: the cast truncates (every
  // operand is >= 0 here, so truncating is flooring). PostgreSQL divides BIGINTs as integers anyway.
  const bucket = sql<number>`cast((created_at - ${from}) / ${size} as integer)`;
  const rows = await db
    .selectFrom('audit_logs')
    .select([kind.as('kind'), bucket.as('bucket'), (eb) => eb.fn.countAll().as('n')])
    .where('type', 'in', types)
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    // By position: PostgreSQL would not see the select's expressions in a repeat of them, whose
    // bound values become other parameters ($3 and $12 are not the same expression to it).
    .groupBy([sql`1`, sql`2`])
    .execute();
  return rows
    .filter((row): row is typeof row & { kind: ActivityKind } => row.kind !== null)
    .map((row) => ({ kind: row.kind, bucket: Number(row.bucket), count: Number(row.n) }));
}
