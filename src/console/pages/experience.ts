import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Views, PageData } from '../../http/views.ts';
import { allowsSignIn, allowsSignUp, experienceSchema, mfaToLogto, offersCode, offersPassword, PASSWORD_MAX_LENGTH, type Experience } from '../../sign-in/experience.ts';
import { signInFlow } from '../../sign-in/routes/email-code.ts';
import type { InteractionDeps, Kit } from '../../sign-in/kit.ts';
import { message } from '../../sign-in/messages.ts';
import { DEFAULT_LANGUAGE_INFO, isLanguage, LANGUAGE_NAMES, LANGUAGES, Phrase } from '../../i18n/index.ts';
import { firstIssue } from '../../lib/validation.ts';
import { sectionOf, type ConsoleContext, type PageRoute } from '../context.ts';
import { apiErrors, clean, sentence, text, type FieldErrors } from '../forms.ts';

/** GET /api/sign-in-exp, the parts the form shows. */
interface LogtoExperience {
  signInMode: Experience['signInMode'];
  signIn: { methods: { identifier: 'email'; password: boolean; verificationCode: boolean; isPasswordPrimary: boolean }[] };
  passwordAtSignUp: Experience['passwordAtSignUp'];
  passwordPolicy: { length: { min: number; max: number }; rejects: { pwned: boolean; userInfo: boolean } };
  verificationCodePolicy: { expirationDuration: number; maxRetryAttempts: number; link: boolean };
  mfa: { factors: string[]; policy: 'UserControlled' | 'Mandatory' };
  languageInfo: { autoDetect: boolean; fallbackLanguage: string };
}

/** The form's fields as typed (strings; a checkbox is 'on' or ''). */
export interface ExperienceForm {
  signInMode: string;
  methodCode: string;
  methodPassword: string;
  primaryMethod: string;
  passwordAtSignUp: string;
  codeTtlMinutes: string;
  codeMaxAttempts: string;
  codeLink: string;
  passwordMinLength: string;
  rejectCommon: string;
  rejectEmail: string;
  mfaPolicy: string;
  autoDetectLanguage: string;
  fallbackLanguage: string;
}

const FIELDS: (keyof ExperienceForm)[] = ['signInMode', 'methodCode', 'methodPassword', 'primaryMethod', 'passwordAtSignUp', 'codeTtlMinutes', 'codeMaxAttempts', 'codeLink', 'passwordMinLength', 'rejectCommon', 'rejectEmail', 'mfaPolicy', 'autoDetectLanguage', 'fallbackLanguage'];
export const experienceForm = (body: unknown): ExperienceForm => Object.fromEntries(FIELDS.map((name) => [name, text(body, name)])) as unknown as ExperienceForm;

/** The stored experience as the form shows it. */
function formOf(stored: LogtoExperience): ExperienceForm {
  const method = stored.signIn.methods[0]!;
  return {
    signInMode: stored.signInMode,
    methodCode: method.verificationCode ? 'on' : '',
    methodPassword: method.password ? 'on' : '',
    primaryMethod: method.isPasswordPrimary ? 'password' : 'verificationCode',
    passwordAtSignUp: stored.passwordAtSignUp,
    codeTtlMinutes: String(stored.verificationCodePolicy.expirationDuration / 60),
    codeMaxAttempts: String(stored.verificationCodePolicy.maxRetryAttempts),
    codeLink: stored.verificationCodePolicy.link ? 'on' : '',
    passwordMinLength: String(stored.passwordPolicy.length.min),
    rejectCommon: stored.passwordPolicy.rejects.pwned ? 'on' : '',
    rejectEmail: stored.passwordPolicy.rejects.userInfo ? 'on' : '',
    mfaPolicy: stored.mfa.factors.length === 0 ? 'off' : stored.mfa.policy === 'Mandatory' ? 'required' : 'optional',
    autoDetectLanguage: stored.languageInfo.autoDetect ? 'on' : '',
    fallbackLanguage: stored.languageInfo.fallbackLanguage,
  };
}

export const LIMITS = { codeTtlMinutes: [1, 60], codeMaxAttempts: [1, 5], passwordMinLength: [8, PASSWORD_MAX_LENGTH] } as const;

/**
 * The form as an experience, checked field by field (messages for a person, next to the field) and
 * then as a whole by the sign-in experience's own schema, the one saving applies: the preview
 * shows only what could be saved.
 */
export function readExperienceForm(form: ExperienceForm): { experience?: Experience; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const whole = (name: keyof typeof LIMITS, label: string) => {
    const [min, max] = LIMITS[name];
    const value = form[name].trim();
    if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
      errors[name] = `${label}: a whole number from ${min} to ${max}.`;
      return min;
    }
    return Number(value);
  };
  if (!['SignInAndRegister', 'SignIn', 'Register'].includes(form.signInMode)) errors.signInMode = 'Choose who may use the sign-in page.';
  if (!['off', 'optional', 'required'].includes(form.passwordAtSignUp)) errors.passwordAtSignUp = 'Choose whether sign-up asks for a password.';
  if (!['off', 'optional', 'required'].includes(form.mfaPolicy)) errors.mfaPolicy = 'Choose whether people use a second factor.';
  // A form from before the language fields (or a hand-made request) keeps the default language.
  const fallbackLanguage = form.fallbackLanguage || DEFAULT_LANGUAGE_INFO.fallbackLanguage;
  if (!isLanguage(fallbackLanguage)) errors.fallbackLanguage = `Choose one of Sesame's languages: ${LANGUAGES.join(', ')}.`;
  const methods: Experience['signInMethods'] = [...(form.methodCode ? ['verificationCode' as const] : []), ...(form.methodPassword ? ['password' as const] : [])];
  if (methods.length === 0) errors.signInMethods = 'Offer at least one way to sign in.';
  if (methods.length === 2 && form.primaryMethod === 'password') methods.reverse();
  const draft = {
    signInMode: form.signInMode,
    passwordAtSignUp: form.passwordAtSignUp,
    signInMethods: methods,
    verificationCode: { ttlMinutes: whole('codeTtlMinutes', 'Code lifetime'), maxAttempts: whole('codeMaxAttempts', 'Tries per code'), link: Boolean(form.codeLink) },
    passwordPolicy: { minLength: whole('passwordMinLength', 'Minimum length'), rejectCommon: Boolean(form.rejectCommon), rejectEmail: Boolean(form.rejectEmail) },
    mfa: { policy: form.mfaPolicy },
    languageInfo: { autoDetect: Boolean(form.autoDetectLanguage), fallbackLanguage },
  };
  if (!clean(errors)) return { errors };
  const parsed = experienceSchema.safeParse(draft);
  if (!parsed.success) {
    const problem = firstIssue(parsed.error);
    // The one rule across fields: password-only sign-in needs a password from everyone who signs up.
    if (/passwordAtSignUp/.test(problem)) return { errors: { passwordAtSignUp: 'With passwords as the only way to sign in, sign-up must ask for a password ("Required"), or new accounts could never sign in.' } };
    return { errors: { _form: sentence(problem) } };
  }
  return { experience: parsed.data, errors };
}

/** The management API's PATCH body for an experience. */
function patchOf(experience: Experience) {
  return {
    signInMode: experience.signInMode,
    signIn: {
      methods: [
        {
          identifier: 'email',
          verificationCode: offersCode(experience),
          password: offersPassword(experience),
          isPasswordPrimary: experience.signInMethods[0] === 'password',
        },
      ],
    },
    passwordAtSignUp: experience.passwordAtSignUp,
    passwordPolicy: { length: { min: experience.passwordPolicy.minLength }, rejects: { pwned: experience.passwordPolicy.rejectCommon, userInfo: experience.passwordPolicy.rejectEmail } },
    verificationCodePolicy: { expirationDuration: experience.verificationCode.ttlMinutes * 60, maxRetryAttempts: experience.verificationCode.maxAttempts, link: experience.verificationCode.link },
    languageInfo: { ...experience.languageInfo },
    mfa: mfaToLogto(experience.mfa.policy),
  };
}

/** Which form field an API refusal is about. */
const API_FIELDS = {
  codeTtlMinutes: /expirationDuration/,
  codeMaxAttempts: /maxRetryAttempts/,
  passwordMinLength: /passwordPolicy\.length|minLength/,
  passwordAtSignUp: /passwordAtSignUp|signUp\.password/,
  signInMethods: /signIn\.methods|signInMethods/,
  signInMode: /signInMode/,
  mfaPolicy: /mfa/,
  fallbackLanguage: /languageInfo/,
};

/** The steps the preview can show, in the order a person meets them. */
export const PREVIEW_STEPS = [
  { id: 'email', label: 'Email address' },
  { id: 'code', label: 'Code' },
  { id: 'password', label: 'Password sign-in' },
  { id: 'create-password', label: 'Create a password (sign-up)' },
] as const;
type Step = (typeof PREVIEW_STEPS)[number]['id'];

const PREVIEW_EMAIL = 'ada@example.com';
const PREVIEW_APP = 'Your app';
const PREVIEW_UID = 'preview';

/**
 * The sign-in flow's own page data for each step (signInFlow's emailPage and codePage, the
 * templates' data as the password routes build it), with every link and form target made inert: the
 * preview shows, it does not sign anyone in.
 */
function previewPage(step: Step, experience: Experience): { page: string; data: PageData } | { unavailable: string } {
  // emailPage and codePage only read the experience; the flow's kit and deps are for its handlers.
  const flow = signInFlow({} as Kit, {} as InteractionDeps);
  const base = { appName: PREVIEW_APP, cancelAction: '#' };
  switch (step) {
    case 'email':
      return { page: 'email', data: { title: message('title.signIn'), ...base, action: '#', ...flow.emailPage(PREVIEW_UID, experience) } };
    case 'code':
      if (!offersCode(experience)) return { unavailable: 'Codes are turned off: people sign in with their password, and sign-up still sends a code to verify the address.' };
      return {
        page: 'code',
        data: { title: message('title.checkEmail'), ...base, email: PREVIEW_EMAIL, action: '#', resendAction: '#', restartUrl: '#', resendInSeconds: 0, codeDead: false, ...flow.codePage(PREVIEW_UID, experience) },
      };
    case 'password':
      if (!offersPassword(experience) || !allowsSignIn(experience)) return { unavailable: 'Nobody sees this page with these settings: password sign-in is off, or the page only signs people up.' };
      return { page: 'password', data: { title: message('title.password'), ...base, email: PREVIEW_EMAIL, action: '#', forgotUrl: '#', codeAction: offersCode(experience) ? '#' : undefined, restartUrl: '#' } };
    case 'create-password':
      if (experience.passwordAtSignUp === 'off' || !allowsSignUp(experience)) return { unavailable: 'Nobody sees this page with these settings: sign-up does not ask for a password, or sign-up is closed.' };
      return {
        page: 'new-password',
        data: {
          title: message('title.createPassword'),
          appName: PREVIEW_APP,
          email: PREVIEW_EMAIL,
          minLength: experience.passwordPolicy.minLength,
          action: '#',
          skipAction: experience.passwordAtSignUp === 'optional' ? '#' : undefined,
          submitLabel: message('label.createAccount'),
        },
      };
  }
}

/** Links in the preview go nowhere: `#...` (the flows build /interaction/preview/... addresses, some in nested groups such as the passkey's). */
const inert = (data: PageData): PageData =>
  Object.fromEntries(
    Object.entries(data).map(([key, value]) => [
      key,
      typeof value === 'string' && value.startsWith('/interaction/')
        ? '#'
        : // A Phrase (the page renderer translates it) is words, not a group of links: kept as it is.
          value && typeof value === 'object' && !Array.isArray(value) && !(value instanceof Phrase)
          ? inert(value as PageData)
          : value,
    ]),
  ) as PageData;

/**
 * The preview's own headers: it may be framed by the console's pages (same origin) and by nothing
 * else, runs no script, submits no form and navigates nowhere, even when opened on its own.
 */
const PREVIEW_CSP = ["default-src 'none'", "style-src 'self'", "img-src 'self' data:", "frame-ancestors 'self'", "form-action 'none'", "base-uri 'none'", 'sandbox allow-same-origin'].join('; ');

export function experienceRoutes(scope: FastifyInstance, page: PageRoute, views: Views): void {
  const section = sectionOf('experience');

  async function showForm(reply: FastifyReply, ctx: ConsoleContext, form?: ExperienceForm, errors: FieldErrors = {}) {
    const { body: stored } = await ctx.api.ok<LogtoExperience>('GET', '/sign-in-exp');
    const shown = form ?? formOf(stored);
    const query = new URLSearchParams({ ...shown, step: 'email' }).toString();
    return ctx.render(
      reply,
      'experience',
      { title: 'Sign-in experience', form: shown, errors, limits: LIMITS, steps: PREVIEW_STEPS, languageChoices: LANGUAGES.map((code) => ({ code, name: LANGUAGE_NAMES[code] })), previewUrl: `/console/sign-in-experience/preview?${query}` },
      clean(errors) ? 200 : 400,
    );
  }

  scope.get('/console/sign-in-experience', section, page(async (_request, reply, ctx) => showForm(reply, ctx)));

  scope.post(
    '/console/sign-in-experience',
    { ...section, preHandler: scope.csrfProtection },
    page(async (request, reply, ctx) => {
      const form = experienceForm(request.body);
      const { experience, errors } = readExperienceForm(form);
      if (!experience) return showForm(reply, ctx, form, errors);
      const answer = await ctx.api.call('PATCH', '/sign-in-exp', patchOf(experience));
      if (answer.status !== 200) return showForm(reply, ctx, form, apiErrors(answer, API_FIELDS));
      return ctx.redirect(reply, '/console/sign-in-experience', { kind: 'notice', text: 'Saved. The next sign-in uses the new settings.' });
    }),
  );

  scope.get(
    '/console/sign-in-experience/preview',
    section,
    page(async (request, reply) => {
      const query = request.query as Record<string, unknown>;
      const step = (PREVIEW_STEPS.find((entry) => entry.id === query.step)?.id ?? 'email') as Step;
      const { experience, errors } = readExperienceForm(experienceForm(query));
      reply.header('cache-control', 'no-store').header('content-security-policy', PREVIEW_CSP).header('x-frame-options', 'SAMEORIGIN').type('text/html; charset=utf-8');
      if (!experience) {
        const problem = Object.values(errors)[0] ?? 'These settings cannot be saved.';
        return reply.code(400).send(views.render('error', { title: 'No preview for these settings', message: problem }));
      }
      const shown = previewPage(step, experience);
      if ('unavailable' in shown) return reply.send(views.render('error', { title: 'Not shown with these settings', message: shown.unavailable }));
      return reply.send(views.render(shown.page, { ...inert(shown.data), csrfToken: 'preview' }));
    }),
  );
}
