import type { FastifyInstance } from 'fastify';
import { sectionOf, type PageRoute } from '../context.ts';

interface Counts {
  signIns: number;
  signUps: number;
  failedAttempts: number;
  mailFailures: number;
}
interface Activity {
  period: '24h' | '30d';
  bucketMs: number;
  buckets: (Counts & { start: number })[];
  totals: Counts;
}
interface AppSummary {
  id: string;
  name: string;
  type: 'Traditional' | 'MachineToMachine';
  oidcClientMetadata: { redirectUris: string[] };
}
interface KeySummary {
  id: string;
  createdAt: number;
  status: 'Next' | 'Current' | 'Previous';
}

const DAY = 24 * 60 * 60 * 1000;
/** Signing keys older than this are due for rotation (README: "Rotating keys"). */
export const KEY_ROTATION_DUE_DAYS = 90;

const METRICS: { key: keyof Counts; label: string; unit: string }[] = [
  { key: 'signIns', label: 'Sign-ins', unit: 'sign-ins' },
  { key: 'signUps', label: 'Sign-ups', unit: 'sign-ups' },
  { key: 'failedAttempts', label: 'Failed attempts', unit: 'failed attempts' },
];

const hourLabel = (at: number) => `${new Date(at).toISOString().slice(11, 13)}:00`;
const dayLabel = (at: number) => new Date(at).toLocaleDateString('en-GB', { day: 'numeric', month: 'short', timeZone: 'UTC' });

/** One bar chart as the template draws it: inline SVG (no script, no library) plus the same numbers as text. */
function chart(activity: Activity, metric: (typeof METRICS)[number]) {
  const label = activity.period === '24h' ? hourLabel : dayLabel;
  const values = activity.buckets.map((bucket) => ({ label: label(bucket.start), value: bucket[metric.key] }));
  const max = Math.max(1, ...values.map((entry) => entry.value));
  const width = 240;
  const height = 60;
  const slot = width / values.length;
  const peak = values.reduce((best, entry) => (entry.value > best.value ? entry : best), values[0]!);
  return {
    id: `${metric.key}-${activity.period}`,
    label: metric.label,
    unit: metric.unit,
    total: activity.totals[metric.key],
    width,
    height,
    bars: values.map((entry, i) => {
      const barHeight = entry.value === 0 ? 1 : Math.max(3, Math.round((entry.value / max) * (height - 4)));
      return { x: +(i * slot + slot * 0.15).toFixed(2), width: +(slot * 0.7).toFixed(2), y: height - barHeight, height: barHeight, empty: entry.value === 0, ...entry };
    }),
    first: values[0]?.label,
    last: values.at(-1)?.label,
    summary:
      activity.totals[metric.key] === 0
        ? `No ${metric.unit}`
        : `${activity.totals[metric.key]} ${metric.unit} in all; most (${peak.value}) ${activity.period === '24h' ? `in the hour from ${peak.label} UTC` : `on ${peak.label}`}`,
  };
}

export function overviewRoutes(scope: FastifyInstance, page: PageRoute): void {
  scope.get(
    '/console',
    sectionOf('overview'),
    page(async (_request, reply, { api, render }) => {
      const [day, month, setup, keys] = await Promise.all([
        api.ok<Activity>('GET', '/dashboard/activity?period=24h'),
        api.ok<Activity>('GET', '/dashboard/activity?period=30d'),
        api.ok<{ environment: string; mailSource: 'connector' | 'environment' | 'none' }>('GET', '/dashboard/setup'),
        api.ok<KeySummary[]>('GET', '/configs/oidc/private-keys'),
      ]);
      // Every traditional app, a page of 100 at a time (there are seldom more than a few dozen).
      const apps: AppSummary[] = [];
      for (let pageNumber = 1; pageNumber <= 50; pageNumber++) {
        const { body, total } = await api.ok<AppSummary[]>('GET', `/applications?types=Traditional&page=${pageNumber}&page_size=100`);
        apps.push(...body);
        if (apps.length >= (total ?? 0) || body.length === 0) break;
      }

      const attention: { level: 'danger' | 'warning'; title: string; text: string; href?: string; action?: string }[] = [];
      if (setup.body.mailSource === 'none' && setup.body.environment === 'production') {
        attention.push({ level: 'danger', title: 'No SMTP server configured', text: 'Sign-in codes cannot be sent. Set the SMTP_* variables or run `sesame connector set smtp --file cfg.json`.' });
      }
      const now = Date.now();
      const signing = keys.body.find((key) => key.status === 'Current');
      if (signing && now - signing.createdAt > KEY_ROTATION_DUE_DAYS * DAY) {
        attention.push({
          level: 'warning',
          title: 'Signing keys are due for rotation',
          text: `The key that signs tokens is ${Math.floor((now - signing.createdAt) / DAY)} days old (rotate every ${KEY_ROTATION_DUE_DAYS} days): run \`sesame keys rotate\`.`,
        });
      }
      for (const app of apps.filter((entry) => entry.oidcClientMetadata.redirectUris.length === 0)) {
        attention.push({ level: 'warning', title: `${app.name} has no redirect URI`, text: 'Nobody can sign in to it until it has one.', href: `/console/applications/${encodeURIComponent(app.id)}`, action: 'Add one' });
      }
      if (day.body.totals.mailFailures > 0) {
        attention.push({ level: 'warning', title: `${day.body.totals.mailFailures} mail delivery failure(s) in the last 24 hours`, text: 'The SMTP server refused or did not take sign-in codes; people may be waiting for a code. The audit log has each one.', href: `/console/logs?${new URLSearchParams({ type: 'Interaction.*', from: new Date(now - DAY).toISOString().slice(0, 16) })}`, action: 'See them' });
      }

      return render(reply, 'overview', {
        title: 'Overview',
        periods: [
          { id: '24h', heading: 'Last 24 hours', note: 'per hour, UTC', charts: METRICS.map((metric) => chart(day.body, metric)), mailFailures: day.body.totals.mailFailures },
          { id: '30d', heading: 'Last 30 days', note: 'per day, UTC', charts: METRICS.map((metric) => chart(month.body, metric)), mailFailures: month.body.totals.mailFailures },
        ],
        attention,
        mailSource: setup.body.mailSource,
        environment: setup.body.environment,
      });
    }),
  );
}
