import { oneLine, parse, quote, UsageError, type Handler } from './command.ts';
import { listAuditLogs, type AuditQuery, type AuditRecord } from '../audit/log.ts';
import { findUserByIdOrEmail } from '../sign-in/accounts.ts';
import { integerIn, parseOr } from '../lib/validation.ts';

export const LOGS_HELP = `Audit log (kept AUDIT_LOG_RETENTION_DAYS days, 30 by default)
  logs [--user ID_OR_EMAIL] [--app ID] [--type TYPE|PREFIX.*] [--since WHEN] [--until WHEN]
       [--limit N] [--json]      newest first; WHEN is a date or time (2026-11-01, 2026-11-01T12:00Z)
                                 or a time ago (90m, 24h, 7d); --limit 1-10000, default 50`;

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** A point in time from a flag: an ISO date or date-time, or a duration before `now` (90m, 24h, 7d). */
export function parseWhen(flag: string, text: string, now: number): number {
  const relative = /^(\d{1,6})([smhdw])$/.exec(text.trim());
  if (relative) return now - Number(relative[1]) * UNITS[relative[2]!]!;
  // Only ISO forms: Date.parse also reads "1" or "March 7" in ways nobody means.
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())) {
    const at = Date.parse(text.trim());
    if (Number.isFinite(at)) return at;
  }
  throw new UsageError(`${flag} must be a date or time such as 2026-11-01 or 2026-11-01T12:00:00Z, or a time ago such as 24h or 7d, got ${quote(text)}`);
}

const limitFlag = integerIn(1, 10_000, '--limit must be an integer between 1 and 10000', 'text').default(50);

function describe(record: AuditRecord) {
  return {
    id: record.id,
    createdAt: new Date(record.createdAt).toISOString(),
    type: record.type,
    result: record.result,
    userId: record.userId,
    applicationId: record.applicationId,
    actor: record.actor,
    ip: record.ip,
    userAgent: record.userAgent,
    data: record.data,
  };
}

/** Aligned columns; the last (the details) is left as long as it is. */
function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ').trimEnd());
}

export const logsCommands: Record<string, Handler> = {
  async logs(args, { db, io }) {
    const { values } = parse(args, {
      user: { type: 'string' },
      app: { type: 'string' },
      type: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      limit: { type: 'string' },
      json: { type: 'boolean' },
    });
    const now = Date.now();
    const limit = parseOr(limitFlag, values.limit, (message) => new UsageError(message));
    const query: AuditQuery = { page: 1, pageSize: limit };
    if (values.since !== undefined) query.from = parseWhen('--since', values.since, now);
    if (values.until !== undefined) query.to = parseWhen('--until', values.until, now);
    if (query.from !== undefined && query.to !== undefined && query.from >= query.to) throw new UsageError('--since must be before --until');
    if (values.app !== undefined) query.applicationId = values.app;
    if (values.type !== undefined) {
      if (!values.type.trim()) throw new UsageError('--type must not be empty');
      query.type = values.type.trim();
    }
    const database = await db();
    if (values.user !== undefined) {
      const user = await findUserByIdOrEmail(database, values.user);
      // An ID that names no account is still searched for: the records of a deleted account remain.
      if (!user && values.user.includes('@')) throw new UsageError(`no user with email ${quote(values.user)}`);
      query.userId = user?.id ?? values.user;
    }
    const { rows, total } = await listAuditLogs(database, query);
    if (values.json) {
      io.out(JSON.stringify(rows.map(describe)));
      return 0;
    }
    if (rows.length === 0) {
      io.out('No audit records match.');
      return 0;
    }
    const lines = table([
      ['TIME', 'RESULT', 'TYPE', 'USER', 'APP', 'ACTOR', 'IP', 'DETAILS'],
      ...rows.map((record) => [
        new Date(record.createdAt).toISOString(),
        record.result,
        record.type,
        record.userId ?? '-',
        record.applicationId ?? '-',
        record.actor ?? '-',
        record.ip ?? '-',
        // JSON escapes control characters, so nothing a client sent can move the terminal's cursor.
        Object.keys(record.data).length ? JSON.stringify(record.data) : '',
      ].map(oneLine)),
    ]);
    for (const line of lines) io.out(line);
    io.out(`${rows.length} of ${total} record(s)${rows.length < total ? '; narrow the filters or raise --limit for more' : ''}.`);
    return 0;
  },
};
