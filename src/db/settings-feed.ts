import pg from 'pg';
import type { PostgresDatabaseConfig } from '../config/database.ts';
import { connectionOptions } from './postgres.ts';
import { SETTINGS_CHANNEL, type SettingsFeed } from './settings.ts';

/** How long to wait before listening again after the connection was lost. */
const RECONNECT_MS = 1_000;

/**
 * PostgreSQL: tells this process the moment any instance changes a setting, so the settings caches
 * (src/db/settings.ts) need no read per request to find out. One connection of its own, outside the
 * pool, LISTENs on SETTINGS_CHANNEL; every settings write NOTIFYs in its transaction, which PostgreSQL
 * delivers on commit. While that connection is down (not yet up, lost, reconnecting) the feed says
 * so and the caches go back to reading the version row; when it is back, everything cached before is
 * treated as stale once, since notifications sent in between were missed.
 */
export async function followSettingsChanges(config: PostgresDatabaseConfig): Promise<SettingsFeed & { close(): Promise<void> }> {
  let client: pg.Client | undefined;
  let closed = false;
  let retry: NodeJS.Timeout | undefined;
  const feed = {
    changes: 0,
    live: () => client !== undefined,
    async close() {
      closed = true;
      clearTimeout(retry);
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

  async function listen(): Promise<void> {
    const candidate = new pg.Client({ ...connectionOptions(config), application_name: `${config.applicationName} (settings feed)`, keepAlive: true });
    candidate.on('error', () => lost(candidate));
    candidate.on('end', () => lost(candidate));
    candidate.on('notification', (message) => {
      if (message.channel === SETTINGS_CHANNEL) feed.changes += 1;
    });
    try {
      await candidate.connect();
      await candidate.query(`LISTEN ${SETTINGS_CHANNEL}`);
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
    client = candidate;
  }

  await listen();
  return feed;
}
