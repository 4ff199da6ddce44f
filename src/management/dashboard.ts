import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import { countActivity, type ActivityKind } from '../db/audit-activity.ts';
import { storedConnectorConfig } from '../mail/mail-source.ts';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;

export const ACTIVITY_PERIODS = { '24h': { buckets: 24, size: HOUR }, '30d': { buckets: 30, size: DAY } } as const;
export type ActivityPeriod = keyof typeof ACTIVITY_PERIODS;

export type ActivityCounts = Record<ActivityKind, number>;
const zero = (): ActivityCounts => ({ signIns: 0, signUps: 0, failedAttempts: 0, mailFailures: 0 });

/**
 * Sign-ins, sign-ups, failed attempts and mail delivery failures from the audit log over the last 24
 * hours (hourly) or 30 days (daily, UTC), for the admin console's overview. Buckets end with the one
 * holding `now` and are whole hours or days, so the same event stays in the same bucket between loads.
 */
export async function activity(db: Database, period: ActivityPeriod, now = Date.now()) {
  const { buckets, size } = ACTIVITY_PERIODS[period];
  const to = Math.floor(now / size) * size + size;
  const from = to - buckets * size;
  const series = Array.from({ length: buckets }, (_, i) => ({ start: from + i * size, ...zero() }));
  const totals = zero();
  for (const { kind, bucket, count } of await countActivity(db, from, to, size)) {
    const entry = series[bucket];
    if (!entry) continue;
    entry[kind] += count;
    totals[kind] += count;
  }
  return { period, from, to, bucketMs: size, buckets: series, totals };
}

/**
 * Where this Sesame's mail goes: the stored SMTP connector, the SMTP_* variables, or nowhere (the dev
 * mailbox outside production). Production refuses to start without one, but the connector can be
 * removed while running.
 */
export async function mailSetup(db: Database, config: Readonly<Config>) {
  const source = (await storedConnectorConfig(db)) ? 'connector' : config.smtp ? 'environment' : 'none';
  return { environment: config.env, mailSource: source as 'connector' | 'environment' | 'none' };
}
