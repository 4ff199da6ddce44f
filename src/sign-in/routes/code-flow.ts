import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Interaction } from 'oidc-provider';
import { z } from 'zod';
import type { User } from '../../db/users.ts';
import { normalizeEmail } from '../email.ts';
import type { Experience } from '../experience.ts';
import type { UsageType } from '../../mail/connector-config.ts';
import { CodeChangedMeanwhile, type CodeService, type CodeState, type CodeUse, type IssueResult, type LinkVerifyResult } from '../codes.ts';
import { MailDeliveryError } from '../../mail/errors.ts';
import type { PageData } from '../../http/views.ts';
import { base, field, formBody, uidParams, type InteractionDeps, type Kit, type SignInApp, type UidRequest } from '../kit.ts';
import { lockoutMessage, message } from '../messages.ts';
import { render, type Phrase } from '../../i18n/index.ts';
import { auditCodeRefused, auditCodeSent, type CodeVia } from '../../audit/sign-in.ts';
import type { VerifyResult } from '../codes.ts';
import { linkStep } from './link.ts';

/**
 * An emailed-code step with explicit states (enter address -> code sent -> verified), shared by
 * sign-in/sign-up and by password recovery. Each flow differs only in the hooks below.
 */
export interface CodeFlow {
  /** Key of the flow's one live code within an interaction. */
  purpose: string;
  /** Route prefix under /interaction/:uid ('' for sign-in, '/forgot' for recovery). */
  prefix: string;
  usageType(user: User | undefined): UsageType;
  /** True when nobody may receive a code for this address (the page still looks the same). */
  phantom(user: User | undefined, experience: Experience): boolean;
  /** Whether the flow is offered at all under the current settings. */
  enabled(experience: Experience): boolean;
  /** Where "use a different email" goes. */
  restartUrl(uid: string): string;
  /** Page data the flow adds to its email page (title, hint, links). */
  emailPage(uid: string, experience: Experience): Partial<PageData>;
  /** Page data the flow adds to its code page. */
  codePage(uid: string, experience: Experience): Partial<PageData>;
  /**
   * Called after a correct code (or its sign-in link, `via: 'link'`); answers the request. It makes
   * `use` (the code's single use, see CodeUse) with what it stores, or alone before it answers; when
   * that throws CodeChangedMeanwhile, nothing may have been answered (see checkedOnce).
   */
  verified(request: FastifyRequest, reply: FastifyReply, interaction: Interaction, email: string, via: CodeVia, use: CodeUse): Promise<unknown>;
  /** Optional: handle the submitted address instead of sending a code (e.g. password-only sign-in). */
  instead?(reply: FastifyReply, interaction: Interaction, email: string, experience: Experience): FastifyReply | undefined;
}

/** The address form. The address itself is checked by normalizeEmail, which words each problem. */
const emailBody = formBody({ email: field(1000) });
/** Full-width digits (a Japanese or Chinese input method) and Arabic-Indic ones are the code's digits too. */
const asciiDigits = (text: string) =>
  text.replace(/[\uFF10-\uFF19\u0660-\u0669\u06F0-\u06F9]/g, (digit) => {
    const code = digit.charCodeAt(0);
    return String(code - (code >= 0xff10 ? 0xff10 : code >= 0x06f0 ? 0x06f0 : 0x0660));
  });
/** The code form: six digits, spaces allowed anywhere (people copy "123 456"). */
const codeBody = formBody({
  code: field(100)
    .transform((typed) => asciiDigits(typed).replace(/\s+/g, ''))
    .pipe(z.string().regex(/^\d{6}$/)),
});
/** A query flag: on when present and not empty. */
const flag = z.unknown().optional().transform(Boolean);
/** The code page's notices: `?sent=1` after a resend, `?slow=1` when the mail server was slow to confirm. */
const codeQuery = z.object({ sent: flag, slow: flag });

/** What the person is told when a code was not (or may not have been) sent; undefined when it was. */
function sendProblem(result: IssueResult, request: FastifyRequest): { error: Phrase; status: number } | undefined {
  switch (result.status) {
    case 'sent':
      return undefined;
    case 'uncertain':
      // The code stands and the send counted: the code page says the mail may be late.
      request.log.warn({ err: result.error }, 'verification mail: the SMTP server did not confirm delivery in time; the code stays valid');
      return undefined;
    case 'cooldown':
      return { error: message('send.cooldown', { count: result.retryAfterSeconds }), status: 429 };
    case 'rate_limited':
      return { error: message('send.rateLimited', { count: Math.ceil(result.retryAfterSeconds / 60) }), status: 429 };
    case 'delivery_failed':
      if (result.error instanceof MailDeliveryError && result.error.recipientRefused) {
        request.log.warn({ err: result.error }, 'verification mail: the receiving server refused the address');
        return { error: message('send.addressRefused'), status: 400 };
      }
      request.log.error({ err: result.error }, 'verification code could not be delivered');
      return { error: message('send.failed'), status: 503 };
  }
}

export interface CodeFlowPages {
  /** The flow's address form, for routes outside the flow that show it (GET /interaction/:uid). */
  emailPage(reply: FastifyReply, interaction: Interaction, experience: Experience, extra?: Partial<PageData>, status?: number): Promise<FastifyReply>;
}

export type FlowPages = ReturnType<typeof flowPages>;

/** The flow's two pages and its send, shared by the address step and the code step. */
function flowPages(kit: Kit, deps: InteractionDeps, flow: CodeFlow) {
  const { db, codes } = deps;
  const at = (uid: string, path = '') => `${base(uid)}${flow.prefix}${path}`;

  async function emailPage(reply: FastifyReply, interaction: Interaction, experience: Experience, extra: Partial<PageData> = {}, status = 200) {
    return kit.page(
      reply,
      'email',
      {
        title: message('title.signIn'),
        appName: await kit.appNameOf(interaction),
        action: at(interaction.uid, flow.prefix ? '' : '/email'),
        ...flow.emailPage(interaction.uid, experience),
        ...extra,
      },
      status,
    );
  }

  async function codePage(reply: FastifyReply, interaction: Interaction, state: CodeState, extra: Partial<PageData> = {}, status = 200) {
    const uid = interaction.uid;
    return kit.page(
      reply,
      'code',
      {
        title: message('title.checkEmail'),
        appName: await kit.appNameOf(interaction),
        email: state.email,
        action: at(uid, '/code'),
        resendAction: at(uid, '/resend'),
        restartUrl: flow.restartUrl(uid),
        cancelAction: `${base(uid)}/cancel`,
        resendInSeconds: state.resendInSeconds,
        codeDead: state.dead || state.expired,
        ...flow.codePage(uid, await kit.experience()),
        ...extra,
      },
      status,
    );
  }

  /** The sign-in link for a token: at ENDPOINT, under the interaction's path, so its cookie comes along. */
  const linkUrl = (uid: string, token: string) => `${deps.endpoint}${at(uid, '/link')}?t=${token}`;

  async function send(request: FastifyRequest, interaction: Interaction, email: string, experience: Experience) {
    const user = (await kit.accountFor(request, email))?.user;
    // The mail speaks the language of the page that sent it (Logto's payload field: `locale`).
    const locale = await kit.languageOf(request);
    const appName = render((await kit.appNameOf(interaction)) ?? message('mail.appFallback'), locale);
    const ttlMinutes = experience.verificationCode.ttlMinutes;
    const who = kit.attempt(request, email);
    const issued = await codes.issue({
      interactionUid: interaction.uid,
      purpose: flow.purpose,
      email,
      ip: who.ip,
      knownDevice: who.knownDevice,
      phantom: flow.phantom(user, experience),
      link: experience.verificationCode.link,
      onLateFailure: (error) => request.log.warn({ err: error }, 'verification mail failed after the page answered; the send still counts'),
      deliver: async (code, _expiresAt, linkToken) => {
        await deps.mailer().send({
          to: email,
          usageType: flow.usageType(user),
          data: {
            code,
            ...(linkToken && { link: linkUrl(interaction.uid, linkToken) }),
            application: { name: appName },
            user: { primaryEmail: email },
            expiresInMinutes: ttlMinutes,
            locale,
          },
        });
        if (deps.logCodes) request.log.info({ to: email }, `verification code for ${email}: ${code}`);
      },
    });
    await auditCodeSent(db, request, interaction, { purpose: flow.purpose, email, user, phantom: flow.phantom(user, experience), result: issued });
    return issued;
  }

  /**
   * The answer to a refused code or link in the browser that started the sign-in: the code page with
   * the reason. Every checked wrong guess counts towards the lockout, the one that uses the code up
   * included; a wrong link token is such a guess.
   */
  async function refused(
    request: FastifyRequest,
    reply: FastifyReply,
    interaction: Interaction,
    result: Exclude<VerifyResult, { status: 'ok' | 'missing' }>,
    via: CodeVia,
  ) {
    const { state } = result;
    const audit = { purpose: flow.purpose, email: state.email, via };
    if (result.status === 'locked') {
      await auditCodeRefused(deps.db, request, interaction, { ...audit, result, lock: result.lock });
      return codePage(reply, interaction, state, { error: lockoutMessage(result.lock) }, 429);
    }
    if (result.status === 'expired') return codePage(reply, interaction, state, { error: message('code.expired') }, 400);

    const failure = result.status === 'wrong' ? await deps.lockout.fail(kit.attempt(request, state.email)) : { locked: false as const };
    await auditCodeRefused(deps.db, request, interaction, { ...audit, result, lock: failure });
    if (failure.locked) return codePage(reply, interaction, state, { error: lockoutMessage(failure) }, 429);
    if (result.status === 'dead' || result.attemptsLeft === 0) {
      return codePage(reply, interaction, state, { error: message('code.usedUp') }, 400);
    }
    // The page adds "N tries left" to the error itself.
    const error = via === 'link' ? message('link.wrong') : message('code.wrong');
    return codePage(reply, interaction, state, { error, attemptsLeft: result.attemptsLeft }, 400);
  }

  /** How often a right guess is checked again after its use found the code changed meanwhile. */
  const MAX_USE_ROUNDS = 3;

  /**
   * Runs `check` (a typed code's or a link's; `round` 0 first) and hands a right secret to
   * flow.verified with its use. When the use finds the code changed meanwhile (another request used it
   * at the same moment, a resend replaced it), nothing was stored, and the guess is checked again on
   * the row as it now is: its verdict (missing, or a wrong guess against the new code) is returned for
   * the route to answer, as is any other verdict. `answered`: flow.verified answered the request.
   */
  async function checkedOnce<Result extends LinkVerifyResult>(
    request: FastifyRequest,
    reply: FastifyReply,
    interaction: Interaction,
    via: CodeVia,
    check: (round: number) => Promise<Result>,
  ): Promise<{ answered: unknown } | { result: Exclude<Result, { status: 'ok' }> | { status: 'missing' } }> {
    for (let round = 0; round < MAX_USE_ROUNDS; round += 1) {
      const result = await check(round);
      if (result.status !== 'ok') return { result: result as Exclude<Result, { status: 'ok' }> };
      try {
        return { answered: await flow.verified(request, reply, interaction, result.email, via, result.use) };
      } catch (error) {
        if (!(error instanceof CodeChangedMeanwhile)) throw error;
      }
    }
    return { result: { status: 'missing' } };
  }

  return { at, emailPage, codePage, send, refused, checkedOnce };
}

/** The address form (and resend): POST an address, a code is sent, on to the code page. */
function addressStep(app: SignInApp, kit: Kit, deps: InteractionDeps, flow: CodeFlow, { at, emailPage, codePage, send }: FlowPages) {
  const { codes } = deps;
  // The address form. Sign-in renders it at GET /interaction/:uid (see routes.ts); recovery here.
  if (flow.prefix) {
    app.get(at(':uid'), { schema: { params: uidParams } }, async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const experience = await kit.experience();
      if (!flow.enabled(experience)) return kit.methodOff(reply);
      const state = await codes.state(interaction.uid, flow.purpose);
      return emailPage(reply, interaction, experience, { email: state?.email });
    });
  }

  app.post(
    at(':uid', flow.prefix ? '' : '/email'),
    { schema: { params: uidParams, body: emailBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const normalized = request.validationError ? undefined : normalizeEmail(request.body.email);
      // The account behind the address (the send asks for it) is read alongside the interaction.
      if (normalized?.ok) kit.prefetchAccount(request, normalized.email);
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const experience = await kit.experience();
      if (!flow.enabled(experience)) return kit.methodOff(reply);
      if (!normalized) {
        return emailPage(reply, interaction, experience, { error: message('email.malformed') }, 400);
      }
      if (!normalized.ok) {
        return emailPage(reply, interaction, experience, { error: normalized.error, email: request.body.email.slice(0, 254) }, 400);
      }
      const redirected = flow.instead?.(reply, interaction, normalized.email, experience);
      if (redirected) return redirected;
      // Whatever the send's outcome, the interaction may now hold a code: a later visit to the address
      // form looks it up (src/sign-in/progress-hint.ts).
      deps.progress.mark(reply, interaction);
      const sent = await send(request, interaction, normalized.email, experience);
      const problem = sendProblem(sent, request);
      if (problem) return emailPage(reply, interaction, experience, { error: problem.error, email: normalized.email }, problem.status);
      return reply.redirect(at(interaction.uid, sent.status === 'uncertain' ? '/code?slow=1' : '/code'), 303);
    },
  );

  app.post(
    at(':uid', '/resend'),
    { schema: { params: uidParams, body: formBody({}) }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const interaction = await kit.loginInteraction(request, reply);
      if (!interaction) return reply;
      const state = await codes.state(interaction.uid, flow.purpose);
      if (!state) return reply.redirect(flow.restartUrl(interaction.uid), 303);
      const experience = await kit.experience();
      const sent = await send(request, interaction, state.email, experience);
      const problem = sendProblem(sent, request);
      if (problem) {
        const now = (await codes.state(interaction.uid, flow.purpose)) ?? state;
        return codePage(reply, interaction, now, { error: problem.error }, problem.status);
      }
      return reply.redirect(at(interaction.uid, sent.status === 'uncertain' ? '/code?slow=1' : '/code?sent=1'), 303);
    },
  );

}

/** The code page: GET shows it, POST checks the code against the lockout and the code's own tries. */
function codeStep(app: SignInApp, kit: Kit, deps: InteractionDeps, flow: CodeFlow, { at, codePage, refused, checkedOnce }: FlowPages) {
  const { codes } = deps;

  /**
   * The interaction and its code row, read together (the row's key is the uid in the URL): one round
   * trip for both on PostgreSQL. The row read is handed on only for the interaction it belongs to.
   */
  async function withCodeRead(request: UidRequest, reply: FastifyReply) {
    const read = codes.read(request.params.uid, flow.purpose);
    const [interaction] = await Promise.all([kit.loginInteraction(request, reply), read]);
    return [interaction, interaction?.uid === request.params.uid ? read : undefined] as const;
  }

  app.get(at(':uid', '/code'), { schema: { params: uidParams, querystring: codeQuery } }, async (request, reply) => {
    const [interaction, read] = await withCodeRead(request, reply);
    if (!interaction) return reply;
    const state = await codes.state(interaction.uid, flow.purpose, read);
    if (!state || state.consumed) return reply.redirect(flow.restartUrl(interaction.uid), 303);
    const notice = request.query.slow ? message('send.slow') : request.query.sent ? message('send.resent') : undefined;
    const error = state.dead ? message('code.dead') : state.expired ? message('code.expired') : undefined;
    return codePage(reply, interaction, state, { notice, error });
  });

  app.post(
    at(':uid', '/code'),
    { schema: { params: uidParams, body: codeBody }, attachValidation: true, preHandler: kit.csrf },
    async (request, reply) => {
      const [interaction, read] = await withCodeRead(request, reply);
      if (!interaction) return reply;
      if (request.validationError) {
        const state = await codes.state(interaction.uid, flow.purpose, read);
        if (!state || state.consumed) return reply.redirect(flow.restartUrl(interaction.uid), 303);
        return codePage(reply, interaction, state, { error: message('code.malformed') }, 400);
      }
      // The lockout is asked first, about the address the code went to; the account a right code signs
      // in is read alongside (flow.verified takes it).
      const gate = (email: string) => {
        kit.prefetchAccount(request, email);
        return kit.checkLock(request, email);
      };
      const outcome = await checkedOnce(request, reply, interaction, 'code', (round) =>
        codes.verify(interaction.uid, flow.purpose, request.body.code, gate, round === 0 ? read : undefined),
      );
      if ('answered' in outcome) return outcome.answered;
      const { result } = outcome;
      if (result.status === 'missing') return reply.redirect(flow.restartUrl(interaction.uid), 303);
      return refused(request, reply, interaction, result, 'code');
    },
  );

}

export function registerCodeFlow(app: SignInApp, kit: Kit, deps: InteractionDeps, flow: CodeFlow): CodeFlowPages {
  const pages = flowPages(kit, deps, flow);
  addressStep(app, kit, deps, flow, pages);
  codeStep(app, kit, deps, flow, pages);
  linkStep(app, kit, deps, flow, pages);
  return { emailPage: pages.emailPage };
}

export type { CodeService };
