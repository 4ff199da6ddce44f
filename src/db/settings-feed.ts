import pg from 'pg';
import type { PostgresDatabaseConfig } from '../config/database.ts';
import { connectionOptions } from './postgres.ts';
import { SETTINGS_CHANNEL, SETTINGS_VERSION_KEY, type SettingsFeed } from './settings.ts';

/** How long to wait before listening again after the connection was lost. */
const RECONNECT_MS = 1_000;
/** How often the feed compares the version row with what it heard (the most a missed notice can cost). */
export const SETTINGS_CROSS_CHECK_MS = 5_000;

export interface SettingsFeedOptions {
  /** Told once when notices are found not to arrive (see followSettingsChanges). */
  onMissedNotice?: () => void;
  crossCheckMs?: number;
}

/**
 * PostgreSQL: tells this process the moment any instance changes a setting, so the settings caches
 * (src/db/settings.ts) need no read per request to find out. One connection of its own, outside the
 * pool, LISTENs on SETTINGS_CHANNEL; every settings write NOTIFYs in its transaction, which PostgreSQL
 * delivers on commit. While that connection is down (not yet up, lost, reconnecting) the feed says
 * so and the caches go back to reading the version row; when it is back, everything cached before is
 * treated as stale once, since notifications sent in between were missed.
 *
 * A connection can also listen and never hear anything: behind PgBouncer in transaction mode the
 * LISTEN lands on a server connection the pooler hands to others. So every SETTINGS_CROSS_CHECK_MS
 * the feed reads the version row on its connection; a version that moved with no notice heard
 * makes the caches stale at once (a change then takes effect within that interval, not instantly)
 * and is reported once through `onMissedNotice`.
 */
export async function followSettingsChanges(
  config: PostgresDatabaseConfig,
  options: SettingsFeedOptions = {},
): Promise<SettingsFeed & { close(): Promise<void> }> {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  let heard = 0;
  let version: string | undefined;
  let missedInARow = 0;
  let reported = false;
  const feed = {
    changes: 0,
    live: () => client !== undefined,
    async close() {
      closed = true;
      clearTimeout(retry);
      clearInterval(crossCheck);
      const current = client;
      client = undefined;
      await current?.end().catch(() => undefined);
    },
  };

  const lost = (which: pg.Client) => {
    if (client !== which) return;
    client = undefined;
    void which.end().catch(() => undefined);
    if (!closed) retry = setTimeout(() => void listen(), RECONNECT_MS).unref();
  };

  const readVersion = async (on: pg.Client) =>
    String((await on.query<{ value: string }>('SELECT value FROM settings WHERE key = $1', [SETTINGS_VERSION_KEY])).rows[0]?.value ?? '0');

  async function listen(): Promise<void> {
    const candidate = new pg.Client({ ...connectionOptions(config), application_name: `${config.applicationName} (settings feed)`, keepAlive: true });
    candidate.on('error', () => lost(candidate));
    candidate.on('end', () => lost(candidate));
    candidate.on('notification', (message) => {
      if (message.channel !== SETTINGS_CHANNEL) return;
      heard += 1;
      feed.changes += 1;
    });
    let current: string;
    try {
      await candidate.connect();
      await candidate.query(`LISTEN ${SETTINGS_CHANNEL}`);
      current = await readVersion(candidate);
    } catch {
      await candidate.end().catch(() => undefined);
      if (!closed) retry = setTimeout(() => void listen(), RECONNECT_MS).unref();
      return;
    }
    if (closed) {
      await candidate.end().catch(() => undefined);
      return;
    }
    // Whatever was cached while nobody listened may be stale.
    feed.changes += 1;
    version = current;
    heard = 0;
    client = candidate;
  }

  const crossCheck = setInterval(() => {
    const on = client;
    if (!on) return;
    readVersion(on).then(
      (current) => {
        if (client !== on) return;
        // Every change adds one to the version and sends one notice: more steps than notices means
        // some were not heard. Stale from now on, whatever the reason; and since a notice can trail
        // the commit it announces by a moment, only misses in two checks in a row count as notices
        // not arriving.
        const steps = Number(current) - Number(version);
        if (steps > heard || !Number.isFinite(steps)) {
          feed.changes += 1;
          missedInARow += 1;
          if (missedInARow >= 2 && !reported) {
            reported = true;
            options.onMissedNotice?.();
          }
        } else if (steps > 0) {
          missedInARow = 0;
        }
        version = current;
        heard = 0;
      },
      () => lost(on),
    );
  }, options.crossCheckMs ?? SETTINGS_CROSS_CHECK_MS);
  crossCheck.unref();

  await listen();
  return feed;
}
