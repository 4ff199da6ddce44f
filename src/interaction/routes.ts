import type {} from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import type { Database } from '../db/database.ts';
import { findApplication } from '../db/applications.ts';
import { findUserByEmail, findUserById } from '../db/users.ts';
import { normalizeEmail } from '../accounts/email.ts';
import { signInVerifiedEmail } from '../accounts/accounts.ts';
import { allowsSignIn, allowsSignUp, loadExperience } from '../experience/settings.ts';
import type { CodeService, CodeState } from '../verification/codes.ts';
import type { Mailer } from '../mail/mailer.ts';
import { clientIp } from '../lib/request.ts';
import type { PageData, Views } from './views.ts';
import { grantRequested } from './grant.ts';

export interface InteractionDeps {
  provider: Provider;
  db: Database;
  views: Views;
  codes: CodeService;
  mailer: () => Mailer;
  now: () => number;
  codeTtlMinutes: () => number;
  /** Development only: print codes to the log so a developer without a mailbox can sign in. */
  logCodes: boolean;
}

/** The email-first flow keeps its one live code under this purpose, whichever mail template it used. */
const EMAIL_FLOW = 'email';

const uidParams = {
  type: 'object',
  required: ['uid'],
  properties: { uid: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,64}$' } },
} as const;

const formBody = (fields: Record<string, number>) =>
  ({
    type: 'object',
    properties: Object.fromEntries(Object.entries(fields).map(([name, maxLength]) => [name, { type: 'string', maxLength }])),
  }) as const;

interface UidRequest {
  Params: { uid: string };
}
interface EmailRequest extends UidRequest {
  Body: { email?: string; _csrf?: string };
}
interface CodeRequest extends UidRequest {
  Body: { code?: string; _csrf?: string };
  Querystring: { sent?: string };
}
interface ConsentRequest extends UidRequest {
  Body: { decision?: string; _csrf?: string };
}

export async function interactionRoutes(app: FastifyInstance, deps: InteractionDeps): Promise<void> {
  const { provider, db, views, codes } = deps;
  const base = (uid: string) => `/interaction/${uid}`;

  async function page(reply: FastifyReply, name: string, data: PageData, status = 200) {
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(views.render(name, { csrfToken: reply.generateCsrf(), ...data }));
  }

  /** Loads the interaction behind the cookie, or answers with the "expired" page. */
  async function details(request: FastifyRequest<UidRequest>, reply: FastifyReply): Promise<Interaction | undefined> {
    try {
      const interaction = await provider.interactionDetails(request.raw, reply.raw);
      if (interaction.uid !== request.params.uid) throw new Error('interaction mismatch');
      return interaction;
    } catch {
      await page(
        reply,
        'error',
        {
          title: 'This sign-in has expired',
          message: 'The sign-in took too long or was already finished. Go back to the app and start again.',
          details: 'session_not_found',
        },
        400,
      );
      return undefined;
    }
  }

  async function appNameOf(interaction: Interaction): Promise<string | undefined> {
    return (await findApplication(db, String(interaction.params.client_id)))?.name;
  }

  async function finish(request: FastifyRequest, reply: FastifyReply, result: Parameters<Provider['interactionResult']>[2]) {
    const redirectTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
    return reply.redirect(redirectTo, 303);
  }

  async function emailPage(reply: FastifyReply, interaction: Interaction, extra: Partial<PageData> = {}, status = 200) {
    return page(
      reply,
      'email',
      { title: 'Sign in', appName: await appNameOf(interaction), action: `${base(interaction.uid)}/email`, ...extra },
      status,
    );
  }

  async function codePage(
    reply: FastifyReply,
    interaction: Interaction,
    state: CodeState,
    extra: Partial<PageData> = {},
    status = 200,
  ) {
    const uid = interaction.uid;
    return page(
      reply,
      'code',
      {
        title: 'Check your email',
        appName: await appNameOf(interaction),
        email: state.email,
        action: `${base(uid)}/code`,
        resendAction: `${base(uid)}/resend`,
        restartUrl: base(uid),
        cancelAction: `${base(uid)}/cancel`,
        resendInSeconds: state.resendInSeconds,
        codeDead: state.dead || state.expired,
        ...extra,
      },
      status,
    );
  }

  /** Sends (or, for an unknown address with sign-up closed, pretends to send) a code. */
  async function sendCode(request: FastifyRequest, interaction: Interaction, email: string) {
    const experience = await loadExperience(db);
    const user = await findUserByEmail(db, email);
    const phantom = user ? !allowsSignIn(experience) : !allowsSignUp(experience);
    const appName = (await appNameOf(interaction)) ?? 'your app';
    const ttlMinutes = deps.codeTtlMinutes();
    return codes.issue({
      interactionUid: interaction.uid,
      purpose: EMAIL_FLOW,
      email,
      ip: clientIp(request),
      phantom,
      deliver: async (code) => {
        await deps.mailer().send({
          to: email,
          usageType: user ? 'SignIn' : 'Register',
          data: { code, application: { name: appName }, user: { primaryEmail: email }, expiresInMinutes: ttlMinutes },
        });
        if (deps.logCodes) request.log.info({ to: email }, `verification code for ${email}: ${code}`);
      },
    });
  }

  function sendProblem(result: Awaited<ReturnType<CodeService['issue']>>, request: FastifyRequest): { error: string; status: number } | undefined {
    switch (result.status) {
      case 'sent':
        return undefined;
      case 'cooldown':
        return { error: `Please wait ${result.retryAfterSeconds} s before asking for another code.`, status: 429 };
      case 'rate_limited':
        return {
          error: `Too many codes were requested. Try again in ${Math.ceil(result.retryAfterSeconds / 60)} min.`,
          status: 429,
        };
      case 'delivery_failed':
        request.log.error({ err: result.error }, 'verification code could not be delivered');
        return { error: 'We could not send the code right now. Please try again in a moment.', status: 503 };
    }
  }

  app.get<UidRequest>('/interaction/:uid', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    if (interaction.prompt.name === 'login') {
      const state = await codes.state(interaction.uid, EMAIL_FLOW);
      return emailPage(reply, interaction, { email: state?.email ?? interaction.params.login_hint });
    }
    // consent
    const accountId = interaction.session?.accountId;
    const application = await findApplication(db, String(interaction.params.client_id));
    if (!accountId || !application) return finish(request, reply, { error: 'access_denied', error_description: 'unknown account or application' });
    if (!application.isThirdParty) {
      const grantId = await grantRequested(provider, interaction, accountId);
      return finish(request, reply, { consent: { grantId } });
    }
    const user = await findUserById(db, accountId);
    const scopes = String(interaction.params.scope ?? 'openid')
      .split(' ')
      .filter(Boolean)
      .map((name) => ({ name, description: SCOPE_DESCRIPTIONS[name] ?? name }));
    return page(reply, 'consent', {
      title: `${application.name} wants to access your account`,
      appName: application.name,
      email: user?.email,
      scopes,
      action: `${base(interaction.uid)}/consent`,
    });
  });

  app.post<EmailRequest>(
    '/interaction/:uid/email',
    { schema: { params: uidParams, body: formBody({ email: 1000, _csrf: 200 }) }, attachValidation: true, preHandler: app.csrfProtection },
    async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      if (interaction.prompt.name !== 'login') return reply.redirect(base(interaction.uid), 303);
      if (request.validationError) return emailPage(reply, interaction, { error: 'That email address is too long.' }, 400);
      const normalized = normalizeEmail(request.body?.email);
      if (!normalized.ok) {
        return emailPage(reply, interaction, { error: normalized.error, email: String(request.body?.email ?? '').slice(0, 254) }, 400);
      }
      const result = await sendCode(request, interaction, normalized.email);
      const problem = sendProblem(result, request);
      if (problem) return emailPage(reply, interaction, { error: problem.error, email: normalized.email }, problem.status);
      return reply.redirect(`${base(interaction.uid)}/code`, 303);
    },
  );

  app.get<CodeRequest>('/interaction/:uid/code', { schema: { params: uidParams } }, async (request, reply) => {
    const interaction = await details(request, reply);
    if (!interaction) return reply;
    const state = await codes.state(interaction.uid, EMAIL_FLOW);
    if (!state || state.consumed || interaction.prompt.name !== 'login') return reply.redirect(base(interaction.uid), 303);
    const notice = request.query.sent ? 'We sent you a new code.' : undefined;
    const error = state.dead
      ? 'That code can no longer be used. Send a new one.'
      : state.expired
        ? 'That code has expired. Send a new one.'
        : undefined;
    return codePage(reply, interaction, state, { notice, error });
  });

  app.post<CodeRequest>(
    '/interaction/:uid/code',
    { schema: { params: uidParams, body: formBody({ code: 100, _csrf: 200 }) }, attachValidation: true, preHandler: app.csrfProtection },
    async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      const state = await codes.state(interaction.uid, EMAIL_FLOW);
      if (!state || interaction.prompt.name !== 'login') return reply.redirect(base(interaction.uid), 303);
      const typed = String(request.body?.code ?? '').replace(/\s+/g, '');
      if (request.validationError || !/^\d{6}$/.test(typed)) {
        return codePage(reply, interaction, state, { error: 'Enter the 6-digit code from the email.' }, 400);
      }
      const result = await codes.verify(interaction.uid, EMAIL_FLOW, typed);
      switch (result.status) {
        case 'ok':
          break;
        case 'wrong': {
          const after = (await codes.state(interaction.uid, EMAIL_FLOW)) ?? state;
          const tries = result.attemptsLeft === 1 ? '1 try left' : `${result.attemptsLeft} tries left`;
          return codePage(reply, interaction, after, { error: `That code is not right. ${tries}.`, attemptsLeft: result.attemptsLeft }, 400);
        }
        case 'dead': {
          const after = (await codes.state(interaction.uid, EMAIL_FLOW)) ?? state;
          return codePage(reply, interaction, after, { error: 'Too many wrong tries: that code no longer works. Send a new one.' }, 400);
        }
        case 'expired':
          return codePage(reply, interaction, state, { error: 'That code has expired. Send a new one.' }, 400);
        case 'missing':
          return reply.redirect(base(interaction.uid), 303);
      }
      const experience = await loadExperience(db);
      const outcome = await signInVerifiedEmail(db, result.email, { allowSignUp: allowsSignUp(experience), now: deps.now() });
      if (!outcome || (!outcome.created && !allowsSignIn(experience))) {
        // Only reachable for a phantom code, which nobody received; answer like a wrong code.
        return codePage(reply, interaction, state, { error: 'That code is not right.' }, 400);
      }
      const accountId = outcome.user.id;
      const application = await findApplication(db, String(interaction.params.client_id));
      const consent =
        application && !application.isThirdParty ? { grantId: await grantRequested(provider, interaction, accountId) } : undefined;
      return finish(request, reply, {
        login: { accountId, amr: ['email'], remember: true },
        ...(consent ? { consent } : {}),
      });
    },
  );

  app.post<EmailRequest>(
    '/interaction/:uid/resend',
    { schema: { params: uidParams, body: formBody({ _csrf: 200 }) }, attachValidation: true, preHandler: app.csrfProtection },
    async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      const state = await codes.state(interaction.uid, EMAIL_FLOW);
      if (!state || interaction.prompt.name !== 'login') return reply.redirect(base(interaction.uid), 303);
      const result = await sendCode(request, interaction, state.email);
      const problem = sendProblem(result, request);
      if (problem) {
        const now = (await codes.state(interaction.uid, EMAIL_FLOW)) ?? state;
        return codePage(reply, interaction, now, { error: problem.error }, problem.status);
      }
      return reply.redirect(`${base(interaction.uid)}/code?sent=1`, 303);
    },
  );

  app.post<UidRequest>(
    '/interaction/:uid/cancel',
    { schema: { params: uidParams }, preHandler: app.csrfProtection },
    async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      await codes.forget(interaction.uid, EMAIL_FLOW);
      return finish(request, reply, { error: 'access_denied', error_description: 'The person cancelled the sign-in.' });
    },
  );

  app.post<ConsentRequest>(
    '/interaction/:uid/consent',
    { schema: { params: uidParams, body: formBody({ decision: 10, _csrf: 200 }) }, attachValidation: true, preHandler: app.csrfProtection },
    async (request, reply) => {
      const interaction = await details(request, reply);
      if (!interaction) return reply;
      const accountId = interaction.session?.accountId;
      if (interaction.prompt.name !== 'consent' || !accountId) return reply.redirect(base(interaction.uid), 303);
      if (request.body?.decision !== 'allow') {
        return finish(request, reply, { error: 'access_denied', error_description: 'The person declined the request.' });
      }
      const grantId = await grantRequested(provider, interaction, accountId);
      return finish(request, reply, { consent: { grantId } });
    },
  );
}

const SCOPE_DESCRIPTIONS: Record<string, string> = {
  openid: 'Know who you are',
  email: 'See your email address',
  profile: 'See your name and username',
  offline_access: 'Stay signed in when you are not using it',
};
