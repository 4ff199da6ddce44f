import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { apiErrors, sentence, text, type FieldErrors } from '../forms.ts';
import { pager } from './applications.ts';
import { CONSOLE_CLIENT_ID } from '../../management/admins.ts';

interface User {
  id: string;
  primaryEmail: string | null;
  name: string | null;
  username: string | null;
  customData: Record<string, unknown>;
  lastSignInAt: number | null;
  createdAt: number;
  updatedAt: number;
  isSuspended: boolean;
  hasPassword: boolean;
  isAdmin: boolean;
}

interface Log {
  id: string;
  key: string;
  payload: { result: 'Success' | 'Error'; ip?: string; applicationId?: string; actor?: string; params?: Record<string, unknown> };
  createdAt: number;
}

interface Session {
  id: string;
  active: boolean;
  signedInAt: number | null;
  expiresAt: number | null;
  lastActiveAt: number | null;
  signInMethods: string[];
  ip: string | null;
  userAgent: string | null;
  applications: { id: string; name: string | null; refreshTokenExpiresAt: number | null }[];
}

const PAGE_SIZE = 20;
const METHODS: Record<string, string> = { email: 'emailed code', pwd: 'password', otp: 'one-time code', hwk: 'passkey', mfa: 'second factor' };

/** "Firefox on Linux" from a user agent, for a person; the whole string stays in a title. */
export function describeAgent(agent: string | null): string {
  if (!agent) return 'Unknown browser';
  const browser = /Edg\//.test(agent) ? 'Edge' : /OPR\//.test(agent) ? 'Opera' : /Firefox\//.test(agent) ? 'Firefox' : /Chrom(e|ium)\//.test(agent) ? 'Chrome' : /Safari\//.test(agent) ? 'Safari' : /curl|node|undici|python|Go-http/i.test(agent) ? 'A program' : 'A browser';
  const system = /Android/.test(agent) ? 'Android' : /iPhone|iPad|iOS/.test(agent) ? 'iOS' : /Mac OS X|Macintosh/.test(agent) ? 'macOS' : /Windows/.test(agent) ? 'Windows' : /CrOS/.test(agent) ? 'ChromeOS' : /Linux/.test(agent) ? 'Linux' : undefined;
  return system ? `${browser} on ${system}` : browser;
}
const PROFILE_FIELDS = { email: /primaryEmail|email/i, username: /username/i, name: /\bname\b/i };

const idOf = (request: FastifyRequest) => encodeURIComponent((request.params as { id: string }).id);
const userUrl = (request: FastifyRequest) => `/console/users/${idOf(request)}`;

/** What an audit event means, for a person (the raw key stays visible beside it). */
export function describeEvent(log: Log): string {
  const known: Record<string, string> = {
    'Interaction.SignIn.Submit': 'Signed in',
    'Interaction.Register.Submit': 'Signed up',
    'Interaction.ForgotPassword.Submit': 'Reset their password',
    'Interaction.SignIn.Verification.EmailVerificationCode.Create': 'Sign-in code sent',
    'Interaction.Register.Verification.EmailVerificationCode.Create': 'Sign-up code sent',
    'Interaction.SignIn.Verification.EmailVerificationCode.Submit': 'Wrong sign-in code',
    'Interaction.Register.Verification.EmailVerificationCode.Submit': 'Wrong sign-up code',
    'Interaction.SignIn.Verification.Password.Submit': 'Wrong password',
    'Interaction.Lockout': 'Locked out for a while',
    'Interaction.ForgotPassword.Verification.EmailVerificationCode.Create': 'Password reset code sent',
    'Interaction.ForgotPassword.Verification.EmailVerificationCode.Submit': 'Wrong password reset code',
    'ExchangeTokenBy.ClientCredentials': 'Token for a machine-to-machine app',
    SignOut: 'Signed out',
  };
  if (known[log.key]) return known[log.key]!;
  const words = (name: string) => name.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  const user = /^Management\.User\.(\w+)$/.exec(log.key);
  if (user) return `Changed by an administrator: ${words(user[1]!)}`;
  // Management.<Entity>[.<Part>].<Action>: "Resource scope: create", "Sign-in experience: update".
  const management = /^Management\.([\w.]+)\.(\w+)$/.exec(log.key);
  if (management) {
    const what = words(management[1]!.replace(/\./g, ' ')).replace('sign in', 'sign-in');
    return `${what[0]!.toUpperCase()}${what.slice(1)}: ${words(management[2]!)}`;
  }
  return log.key;
}

export function userRoutes(scope: FastifyInstance, page: PageRoute): void {
  const section = sectionOf('users');

  scope.get(
    '/console/users',
    section,
    page(async (request, reply, { api, render }) => {
      const query = request.query as Record<string, unknown>;
      const search = typeof query.search === 'string' ? query.search.trim().slice(0, 256) : '';
      const n = Number(query.page);
      const current = Number.isInteger(n) && n >= 1 && n <= 100_000 ? n : 1;
      const { body, total = 0 } = await api.ok<User[]>('GET', `/users?${new URLSearchParams({ page: String(current), page_size: String(PAGE_SIZE), ...(search && { search }) })}`);
      return render(reply, 'users', {
        title: 'Users',
        search,
        users: body,
        pager: pager(current, total, `/console/users?${search ? `search=${encodeURIComponent(search)}&` : ''}`),
      });
    }),
  );

  async function showUser(
    request: FastifyRequest,
    reply: FastifyReply,
    ctx: ConsoleContext,
    kept: { profile?: Record<string, string>; customData?: string } = {},
    errors: FieldErrors = {},
  ) {
    const [{ body: user }, { body: logs, total: eventTotal = 0 }, { body: sessions }] = await Promise.all([
      ctx.api.ok<User>('GET', `/users/${idOf(request)}`),
      ctx.api.ok<Log[]>('GET', `/logs?userId=${idOf(request)}&page_size=20`),
      ctx.api.ok<Session[]>('GET', `/users/${idOf(request)}/sessions`),
    ]);
    return ctx.render(
      reply,
      'user',
      {
        title: user.primaryEmail ?? user.id,
        user,
        self: user.id === ctx.session.userId,
        profile: kept.profile ?? { email: user.primaryEmail ?? '', name: user.name ?? '', username: user.username ?? '' },
        customData: kept.customData ?? JSON.stringify(user.customData, null, 2),
        events: logs.map((log) => ({ ...log, description: describeEvent(log), failed: log.payload.result === 'Error' })),
        eventTotal,
        sessions: sessions.map((session) => ({
          ...session,
          device: describeAgent(session.userAgent),
          methods: session.signInMethods.map((method) => METHODS[method] ?? method).join(' + ') || 'unknown',
          // The console's own app has no page (the API does not list or change it).
          applications: session.applications.map((app) => ({ ...app, page: app.id !== CONSOLE_CLIENT_ID })),
        })),
        errors,
      },
      Object.keys(errors).length ? 400 : 200,
    );
  }

  scope.get('/console/users/:id', section, page(async (request, reply, ctx) => showUser(request, reply, ctx)));

  scope.post(
    '/console/users/:id',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const profile = { email: text(request.body, 'email').trim(), name: text(request.body, 'name').trim(), username: text(request.body, 'username').trim() };
      const errors: FieldErrors = {};
      if (!/^[^\s@]+@[^\s@]+$/.test(profile.email)) errors.email = 'Enter an email address, such as ada@example.com.';
      if (profile.name.length > 128) errors.name = 'At most 128 characters.';
      if (profile.username && !/^[A-Z_a-z]\w*$/.test(profile.username)) errors.username = 'A username starts with a letter or _ and holds only letters, digits and _.';
      if (Object.keys(errors).length) return showUser(request, reply, ctx, { profile }, errors);
      const answer = await ctx.api.call('PATCH', `/users/${idOf(request)}`, { primaryEmail: profile.email, name: profile.name || null, username: profile.username || null });
      if (answer.status !== 200) return showUser(request, reply, ctx, { profile }, apiErrors(answer, PROFILE_FIELDS));
      return ctx.redirect(reply, userUrl(request), { kind: 'notice', text: 'Profile saved.' });
    }),
  );

  scope.post(
    '/console/users/:id/custom-data',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const typed = text(request.body, 'customData');
      let value: unknown;
      try {
        value = typed.trim() === '' ? {} : JSON.parse(typed);
      } catch (error) {
        return showUser(request, reply, ctx, { customData: typed }, { customData: `This is not valid JSON: ${(error as Error).message}.` });
      }
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return showUser(request, reply, ctx, { customData: typed }, { customData: 'Custom data must be a JSON object, such as {"plan": "pro"}.' });
      }
      const answer = await ctx.api.call('PATCH', `/users/${idOf(request)}`, { customData: value });
      if (answer.status !== 200) return showUser(request, reply, ctx, { customData: typed }, { customData: sentence((answer.body as { message: string }).message) });
      return ctx.redirect(reply, userUrl(request), { kind: 'notice', text: 'Custom data saved.' });
    }),
  );

  scope.post(
    '/console/users/:id/suspension',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const suspend = text(request.body, 'suspend') === 'true';
      await ctx.api.ok('PATCH', `/users/${idOf(request)}/is-suspended`, { isSuspended: suspend });
      return ctx.redirect(reply, userUrl(request), {
        kind: 'notice',
        text: suspend ? 'Suspended: they cannot sign in, and their sessions and refresh tokens have ended.' : 'They may sign in again.',
      });
    }),
  );

  scope.post(
    '/console/users/:id/admin',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const grant = text(request.body, 'admin') === 'true';
      await ctx.api.ok('PATCH', `/users/${idOf(request)}/is-admin`, { isAdmin: grant });
      return ctx.redirect(reply, userUrl(request), { kind: 'notice', text: grant ? 'They are now an administrator.' : 'They are no longer an administrator; their console sessions have ended.' });
    }),
  );

  scope.post(
    '/console/users/:id/sessions',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      await ctx.api.ok('DELETE', `/users/${idOf(request)}/sessions`);
      return ctx.redirect(reply, userUrl(request), { kind: 'notice', text: 'Signed out everywhere: every session and refresh token of theirs has ended. Access tokens already issued run out within their lifetime (an hour at most by default).' });
    }),
  );

  scope.get(
    '/console/users/:id/delete',
    section,
    page(async (request, reply, ctx) => {
      const { body: user } = await ctx.api.ok<User>('GET', `/users/${idOf(request)}`);
      return ctx.render(reply, 'confirm-delete', {
        title: `Delete ${user.primaryEmail ?? user.id}?`,
        what: user.primaryEmail ?? user.id,
        consequences: ['The account, its profile and custom data are removed, and they are signed out everywhere.', 'Signing in with the same address later creates a new, empty account.'],
        action: `/console/users/${encodeURIComponent(user.id)}/delete`,
        cancel: `/console/users/${encodeURIComponent(user.id)}`,
      });
    }),
  );

  scope.post(
    '/console/users/:id/delete',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const { body: user } = await ctx.api.ok<User>('GET', `/users/${idOf(request)}`);
      await ctx.api.ok('DELETE', `/users/${idOf(request)}`);
      return ctx.redirect(reply, '/console/users', { kind: 'notice', text: `Deleted ${user.primaryEmail ?? user.id}.` });
    }),
  );
}
