import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AuditType } from '../../audit/log.ts';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { pageNumber, sentence, type FieldErrors } from '../forms.ts';
import { pager } from './applications.ts';
import { describeEvent } from './users.ts';

interface Log {
  id: string;
  key: string;
  payload: {
    result: 'Success' | 'Error';
    ip?: string;
    userAgent?: string;
    userId?: string;
    applicationId?: string;
    actor?: string;
    params?: Record<string, unknown>;
  };
  createdAt: number;
}
interface AppSummary {
  id: string;
  name: string;
}
interface UserSummary {
  id: string;
  primaryEmail: string | null;
}

const PAGE_SIZE = 20;

/** Suggestions for the event type field: Sesame's own keys and the prefixes that group them. */
export const EVENT_SUGGESTIONS = [
  'Interaction.*',
  'Interaction.SignIn.*',
  'Interaction.Register.*',
  'Interaction.ForgotPassword.*',
  ...Object.values(AuditType),
  'Management.*',
  'Management.User.*',
  'Management.Application.*',
  'Management.Resource.*',
  'Management.SignInExperience.Update',
  'Management.Connector.*',
];

/** `2026-05-01T10:30` (a datetime-local field, read as UTC) to ms; undefined when empty, NaN when not a time. */
function utcTime(value: string): number | undefined {
  if (!value) return undefined;
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/.test(value)) return Number.NaN;
  return Date.parse(`${value}${value.length === 16 ? ':00' : ''}Z`);
}

const one = (query: Record<string, unknown>, name: string) => (typeof query[name] === 'string' ? (query[name] as string).trim().slice(0, 256) : '');

/** Who made a management change, for a person: the CLI, an m2m app, or an administrator (with a link). */
function actorOf(actor: string | undefined, apps: Map<string, string>, users: Map<string, string>) {
  if (!actor) return undefined;
  if (actor === 'cli') return { text: 'the sesame command on the server' };
  const [kind, id = ''] = actor.split(/:(.*)/s);
  if (kind === 'app') return { text: `app ${apps.get(id) ?? id}`, href: `/console/applications/${encodeURIComponent(id)}` };
  if (kind === 'user') return { text: `administrator ${users.get(id) ?? id}`, href: `/console/users/${encodeURIComponent(id)}` };
  return { text: actor };
}

export function logRoutes(scope: FastifyInstance, page: PageRoute): void {
  const section = sectionOf('logs');

  /** Names for the apps and people a page of records mentions (a handful of in-process API calls). */
  async function names(ctx: ConsoleContext, logs: Log[]) {
    const apps = new Map<string, string>();
    const { body: listed } = await ctx.api.ok<AppSummary[]>('GET', '/applications?page_size=100');
    for (const app of listed) apps.set(app.id, app.name);
    const users = new Map<string, string>();
    const ids = new Set(logs.flatMap((log) => [log.payload.userId, log.payload.actor?.startsWith('user:') ? log.payload.actor.slice(5) : undefined]).filter((id): id is string => Boolean(id)));
    await Promise.all(
      [...ids].map(async (id) => {
        const answer = await ctx.api.call<UserSummary>('GET', `/users/${encodeURIComponent(id)}`);
        if (answer.status === 200) users.set(id, answer.body.primaryEmail ?? id);
      }),
    );
    return { apps, users, appList: listed };
  }

  scope.get(
    '/console/logs',
    section,
    page(async (request, reply, ctx) => {
      const query = request.query as Record<string, unknown>;
      const filters = { user: one(query, 'user') || one(query, 'userId'), applicationId: one(query, 'applicationId'), type: one(query, 'type'), from: one(query, 'from'), to: one(query, 'to') };
      const current = pageNumber(query.page);
      const errors: FieldErrors = {};
      const params = new URLSearchParams({ page: String(current), page_size: String(PAGE_SIZE) });

      // A user by ID, or by email address (looked up through the API).
      if (filters.user.includes('@')) {
        const { body } = await ctx.api.ok<UserSummary[]>('GET', `/users?${new URLSearchParams({ search: filters.user, page_size: '100' })}`);
        const match = body.find((user) => user.primaryEmail?.toLowerCase() === filters.user.toLowerCase());
        if (match) params.set('userId', match.id);
        else errors.user = `Nobody has the email address ${filters.user}.`;
      } else if (filters.user) params.set('userId', filters.user);
      if (filters.applicationId) params.set('applicationId', filters.applicationId);
      if (filters.type) {
        if (/\s/.test(filters.type)) errors.type = 'An event type has no spaces: a key such as Interaction.SignIn.Submit, or a prefix such as Management.*.';
        else params.set('logKey', filters.type);
      }
      const from = utcTime(filters.from);
      const to = utcTime(filters.to);
      if (Number.isNaN(from)) errors.from = 'Enter a date and time, such as 2026-05-01T09:00.';
      if (Number.isNaN(to)) errors.to = 'Enter a date and time, such as 2026-05-01T18:00.';
      if (from !== undefined && to !== undefined && from > to) errors.to = 'The end is before the start.';
      if (from !== undefined && !Number.isNaN(from)) params.set('start_time', String(from));
      // The field is to the minute: the whole minute is included.
      if (to !== undefined && !Number.isNaN(to)) params.set('end_time', String(to + 59_999));

      let logs: Log[] = [];
      let total = 0;
      if (Object.keys(errors).length === 0) {
        const answer = await ctx.api.call<Log[]>('GET', `/logs?${params}`);
        if (answer.status === 200) {
          logs = answer.body;
          total = answer.total ?? 0;
        } else {
          const message = sentence((answer.body as unknown as { message: string }).message);
          errors[/logKey/.test(message) ? 'type' : /time/.test(message) ? 'from' : '_form'] = message;
        }
      }
      const { apps, users, appList } = await names(ctx, logs);
      const kept = new URLSearchParams(Object.entries(filters).filter(([, value]) => value) as [string, string][]);
      return ctx.render(
        reply,
        'logs',
        {
          title: 'Audit log',
          filters,
          filtered: kept.size > 0,
          apps: appList.some((app) => app.id === filters.applicationId) || !filters.applicationId ? appList : [...appList, { id: filters.applicationId, name: filters.applicationId }],
          suggestions: EVENT_SUGGESTIONS,
          logs: logs.map((log) => ({
            ...log,
            description: describeEvent(log),
            failed: log.payload.result === 'Error',
            user: log.payload.userId ? (users.get(log.payload.userId) ?? log.payload.userId) : undefined,
            app: log.payload.applicationId ? (apps.get(log.payload.applicationId) ?? log.payload.applicationId) : undefined,
          })),
          pager: pager(current, total, `/console/logs?${kept.size ? `${kept}&` : ''}`),
          errors,
        },
        Object.keys(errors).length ? 400 : 200,
      );
    }),
  );

  scope.get(
    '/console/logs/:id',
    section,
    page(async (request: FastifyRequest, reply, ctx) => {
      const { body: log } = await ctx.api.ok<Log>('GET', `/logs/${encodeURIComponent((request.params as { id: string }).id)}`);
      const { apps, users } = await names(ctx, [log]);
      return ctx.render(reply, 'log', {
        title: describeEvent(log),
        log,
        description: describeEvent(log),
        failed: log.payload.result === 'Error',
        user: log.payload.userId ? { id: log.payload.userId, label: users.get(log.payload.userId), exists: users.has(log.payload.userId) } : undefined,
        app: log.payload.applicationId ? { id: log.payload.applicationId, label: apps.get(log.payload.applicationId) } : undefined,
        actor: actorOf(log.payload.actor, apps, users),
        params: log.payload.params ? JSON.stringify(log.payload.params, null, 2) : undefined,
        when: new Date(log.createdAt).toISOString(),
      });
    }),
  );
}
