import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RawServerDefault } from 'fastify';
import type {} from '@fastify/csrf-protection';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type Provider from 'oidc-provider';
import type { Interaction, InteractionResults } from 'oidc-provider';
import { isDatabaseUnavailable, type Database, type Queryable } from '../db/database.ts';
import { recordSignIn, type SignInRecord } from '../audit/sign-in.ts';
import { findApplicationCached } from '../oidc/application-cache.ts';
import { findUserForSignIn, type AccountForSignIn, type User } from '../db/users.ts';
import { loadExperience, type Experience } from './experience.ts';
import type { CodeService, CodeUse } from './codes.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { Attempt, Lockout, LockState } from './lockout.ts';
import type { KnownDevices } from './known-devices.ts';
import type { ProgressHint } from './progress-hint.ts';
import { clientIp } from '../lib/request.ts';
import type { PasswordHasher } from './passwords.ts';
import type { PageData, Text, Views } from '../http/views.ts';
import { appDisplayName } from '../oidc/app-name.ts';
import { grantRequested, missingAtSignIn } from './grant.ts';
import { message } from './messages.ts';
import { chooseLanguage, type Language } from '../i18n/index.ts';
import { LANGUAGE_COOKIE, returnPath } from '../http/language.ts';
import { createSecondFactor } from '../mfa/second-factor.ts';
import { purgePending, savePending } from '../db/mfa.ts';
import { writeOrHold, writeTogether } from '../oidc/request-writes.ts';
import { writeAhead } from '../db/write-ahead.ts';
import type { AccountWrite } from './accounts.ts';

export interface InteractionDeps {
  provider: Provider;
  db: Database;
  views: Views;
  codes: CodeService;
  lockout: Lockout;
  knownDevices: KnownDevices;
  /** Whether this browser left state in an interaction (a code asked for, a second factor due). */
  progress: ProgressHint;
  passwords: PasswordHasher;
  mailer: () => Mailer;
  now: () => number;
  /** ENDPOINT: the public base URL, for the sign-in links mailed with codes. */
  endpoint: string;
  /** CODE_TTL_MINUTES: the code lifetime unless the sign-in experience sets one. */
  codeTtlMinutes: number;
  /** Development only: print codes to the log so a developer without a mailbox can sign in. */
  logCodes: boolean;
}

/**
 * The sign-in routes' fastify: each route's zod schemas both validate its params, query and body and
 * type them in the handler (the scope's compilers are fastify-type-provider-zod's, set in app.ts).
 */
export type SignInApp = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, ZodTypeProvider>;

export const uidParams = z.object({ uid: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/) });

/** What the kit needs of a request to /interaction/:uid/... */
export type UidRequest = Pick<FastifyRequest, 'raw' | 'headers' | 'cookies'> & { params: z.infer<typeof uidParams> };
/** What the language choice reads of a request. */
type LanguageRequest = Pick<FastifyRequest, 'headers' | 'cookies'>;

/** One text field of a form: a single string of at most `maxLength` characters; a missing field reads as ''. */
export const field = (maxLength: number) => z.string().max(maxLength).default('');

/**
 * A form's body: its fields and the CSRF token every form carries. Shapes a form never sends (a
 * repeated field, a JSON object for a value, an over-long value) fail validation; the routes use
 * `attachValidation` and answer those with their own person-readable message.
 */
export const formBody = <Shape extends z.ZodRawShape>(fields: Shape) => z.object({ _csrf: z.string().max(200).optional() }).extend(fields);

/** The body field a failed validation names first (undefined when the body was valid or refused as a whole). */
export function refusedField(request: FastifyRequest): string | undefined {
  const first = (request.validationError?.validation as { instancePath?: string }[] | undefined)?.[0];
  return first?.instancePath?.split('/')[1] || undefined;
}

export const base = (uid: string) => `/interaction/${uid}`;

/** What every interaction route needs: load the interaction, render a page, finish the sign-in. */
export function createKit(app: SignInApp, deps: InteractionDeps) {
  const { provider, db, views } = deps;

  /** Each request's language, once its interaction (and so its ui_locales) is known: see languageOf. */
  const languages = new WeakMap<object, Language>();

  /**
   * The language of this request's pages and mail (src/i18n chooseLanguage): the switcher's cookie,
   * the interaction's ui_locales, Accept-Language, the sign-in experience's fallback. Remembered for
   * the request once an interaction was given, so later pages and mail of the request agree.
   */
  async function languageOf(request: LanguageRequest, interaction?: Interaction): Promise<Language> {
    const known = languages.get(request);
    if (known && !interaction) return known;
    const { languageInfo } = await experience();
    const language = chooseLanguage({
      uiLocales: interaction?.params.ui_locales,
      acceptLanguage: request.headers['accept-language'],
      cookie: request.cookies?.[LANGUAGE_COOKIE],
      info: languageInfo,
    });
    languages.set(request, language);
    return language;
  }

  async function page(reply: FastifyReply, name: string, data: PageData, status = 200) {
    const lang = await languageOf(reply.request);
    return reply
      .code(status)
      .header('cache-control', 'no-store')
      .type('text/html; charset=utf-8')
      .send(views.render(name, { csrfToken: reply.generateCsrf(), lang, here: returnPath(reply.request), ...data }));
  }

  /** Loads the interaction behind the cookie, or answers with the "expired" page. */
  async function details(request: UidRequest, reply: FastifyReply): Promise<Interaction | undefined> {
    try {
      const interaction = await provider.interactionDetails(request.raw, reply.raw);
      if (interaction.uid !== request.params.uid) throw new Error('interaction mismatch');
      await languageOf(request, interaction);
      return interaction;
    } catch (error) {
      // A database fault is not an expired sign-in: let the error handler answer 503.
      if (isDatabaseUnavailable(error)) throw error;
      await page(reply, 'error', { title: message('expired.title'), message: message('expired.message'), details: 'session_not_found' }, 400);
      return undefined;
    }
  }

  /** details() for routes that only make sense while the person still has to sign in. */
  async function loginInteraction(request: UidRequest, reply: FastifyReply): Promise<Interaction | undefined> {
    const interaction = await details(request, reply);
    if (!interaction) return undefined;
    if (interaction.prompt.name !== 'login') {
      await reply.redirect(base(interaction.uid), 303);
      return undefined;
    }
    return interaction;
  }

  /** Through oidc-provider's client lookup, which the adapter serves from its short cache. */
  async function appNameOf(interaction: Pick<Interaction, 'params'>): Promise<Text | undefined> {
    return appDisplayName(await provider.Client.find(String(interaction.params.client_id)));
  }

  /**
   * Ends the interaction with `result` and sends the browser back to oidc-provider. With the
   * interaction this request already loaded, it is saved as provider.interactionResult would, without
   * loading it again (one read less on the way of every sign-in).
   */
  async function finish(request: FastifyRequest, reply: FastifyReply, result: InteractionResults, loaded?: Interaction) {
    if (!loaded) {
      const redirectTo = await provider.interactionResult(request.raw, reply.raw, result, { mergeWithLastSubmission: false });
      return reply.redirect(redirectTo, 303);
    }
    await saveResult(loaded, result);
    return reply.redirect(loaded.returnTo, 303);
  }

  /** What provider.interactionResult does, on an interaction already loaded. */
  async function saveResult(interaction: Interaction, result: InteractionResults): Promise<void> {
    interaction.result = result;
    await interaction.save(interaction.exp - Math.floor(Date.now() / 1000));
  }

  /** Account reads a route started early, by request and address (see prefetchAccount). */
  const prefetched = new WeakMap<FastifyRequest, Map<string, Promise<AccountForSignIn | undefined>>>();

  /**
   * Starts reading the account for `email` (with whether it has a second factor) as soon as the route
   * knows the address, alongside another read (one round trip for both on PostgreSQL); accountFor
   * takes it. A read never taken (the guess was wrong) is simply dropped.
   */
  function prefetchAccount(request: FastifyRequest, email: string): void {
    let mine = prefetched.get(request);
    if (!mine) prefetched.set(request, (mine = new Map()));
    if (mine.has(email)) return;
    const read = findUserForSignIn(db, email);
    // Its failure is met by whoever takes it; one never taken must not be an unhandled rejection.
    read.catch(() => undefined);
    mine.set(email, read);
  }

  /** The account for `email`: the read prefetchAccount started (taken once), else a fresh one. */
  function accountFor(request: FastifyRequest, email: string): Promise<AccountForSignIn | undefined> {
    const mine = prefetched.get(request);
    const read = mine?.get(email);
    if (!read) return findUserForSignIn(db, email);
    mine!.delete(email);
    return read;
  }

  /** What lockout.check said about this request's attempt, for completeSignIn (see Lockout.succeed). */
  const checks = new WeakMap<FastifyRequest, { email: string; state: LockState }>();

  /** The lockout's check of this request's attempt at `email`. */
  async function checkLock(request: FastifyRequest, email: string): Promise<LockState> {
    const state = await deps.lockout.check(attempt(request, email));
    checks.set(request, { email, state });
    return state;
  }

  /**
   * Signs `user` in; first-party apps get their consent in the same step (one redirect less).
   * `record`: what the sign-in records once complete (its audit event, the account's last sign-in),
   * written in the transaction that completes it, after any second factor.
   * `secondFactor`: whether the person has one set up, when the caller read it with the account.
   * `write`: the account's writes for this sign-in (see SignInOutcome.write), made in the transaction
   * that completes it, or that records the second factor still to come; not at all when the account
   * is suspended (that is no sign-in).
   * `use`: the use of the code that proved the address (CodeUse), made first in that same transaction,
   * and alone when the account is suspended. When it throws CodeChangedMeanwhile nothing is stored.
   */
  async function completeSignIn(
    request: FastifyRequest,
    reply: FastifyReply,
    interaction: Interaction,
    user: User,
    amr: string[],
    { record, secondFactor, write, use }: { record: SignInRecord; secondFactor?: boolean; write?: AccountWrite; use?: CodeUse },
  ) {
    // Every way in (code, password, recovery) ends here: a suspended account goes back to the app refused.
    if (user.isSuspended) {
      if (use) await use(db);
      return finish(request, reply, { error: 'access_denied', error_description: 'this account is suspended' });
    }
    // A second factor still to prove (or, when required, to set up): nothing below happens yet, so the
    // first factor alone neither clears the lockout, nor marks this browser as known, nor counts as a
    // sign-in (routes/mfa.ts).
    if (!amr.includes('mfa')) {
      const next = await secondFactors.needed(user.id, (await experience()).mfa.policy, secondFactor);
      if (next) return toSecondFactor(reply, interaction, user, amr, record, next, write, use);
    }
    const checked = checks.get(request);
    await deps.lockout.succeed(attempt(request, user.email), checked?.email === user.email ? checked.state : undefined);
    const application = await findApplicationCached(db, String(interaction.params.client_id));
    // The consent prompt has not come yet, so its details do not say what is missing: see missingAtSignIn.
    const missing = application && !application.isThirdParty ? await missingAtSignIn(db, interaction) : undefined;
    const at = deps.now();
    // The code's use, the grant, the interaction's result, the account's writes and the sign-in's
    // record are stored together (one commit, all or nothing), before the browser is sent on.
    await writeTogether(db, async () => {
      if (use) await writeOrHold(db, use, { touches: 'no model' });
      const consent = missing ? { grantId: await grantRequested(provider, interaction, user.id, missing) } : undefined;
      await saveResult(interaction, { login: { accountId: user.id, amr, remember: true }, ...(consent ? { consent } : {}) });
      const signedIn = async (tx: Queryable) => {
        if (write) await write(tx);
        await recordSignIn(tx, request, interaction, user, record, at);
      };
      await writeOrHold(db, signedIn, { touches: 'no model' });
    });
    // Only once the sign-in is stored: this browser signed in with the address.
    deps.knownDevices.remember(request, reply, user.email);
    return reply.redirect(interaction.returnTo, 303);
  }

  const secondFactors = createSecondFactor({ db, now: deps.now, issuer: new URL(provider.issuer).host });

  /**
   * Remembers, on the server and for this interaction only, who passed the first factor, how, and
   * what the sign-in will record once the second passes.
   */
  async function toSecondFactor(
    reply: FastifyReply,
    interaction: Interaction,
    user: User,
    amr: string[],
    record: SignInRecord,
    next: 'verify' | 'setup',
    write?: AccountWrite,
    use?: CodeUse,
  ) {
    const at = deps.now();
    await db.transaction().execute(async (tx) => {
      if (use) await use(tx);
      await purgePending(tx, at);
      await savePending(tx, { interactionUid: interaction.uid, userId: user.id, amr, record, createdAt: at, expiresAt: interaction.exp * 1000 });
      if (write) await writeAhead(tx, () => write(tx));
    });
    deps.progress.mark(reply, interaction);
    return reply.redirect(`${base(interaction.uid)}/mfa${next === 'setup' ? '/setup' : ''}`, 303);
  }

  /** Who is trying to sign in with `email`, for the lockout and the send caps. */
  function attempt(request: FastifyRequest, email: string): Attempt {
    return { email, ip: clientIp(request), knownDevice: deps.knownDevices.isKnown(request, email) };
  }

  const experience = (): Promise<Experience> => loadExperience(db, deps.codeTtlMinutes);

  /** For a method the operator turned off: the route exists but refuses. */
  function methodOff(reply: FastifyReply) {
    return page(reply, 'error', { title: message('methodOff.title'), message: message('methodOff.message'), details: 'method_disabled' }, 404);
  }

  return { page, languageOf, details, loginInteraction, appNameOf, finish, completeSignIn, attempt, checkLock, prefetchAccount, accountFor, experience, methodOff, secondFactor: secondFactors, csrf: app.csrfProtection };
}

export type Kit = ReturnType<typeof createKit>;
