import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ApiDeps } from '../deps.ts';
import { LANGUAGES } from '../../i18n/index.ts';
import { InvalidExperienceError, loadExperience, MFA_API_POLICIES, MFA_FACTORS, mfaToLogto, PASSWORD_AT_SIGN_UP, PASSWORD_MAX_LENGTH, SIGN_IN_MODES, type Experience, type ExperienceChanges } from '../../sign-in/experience.ts';
import { updateExperience } from '../../management/experience.ts';
import { InvalidInputError } from '../../management/errors.ts';
import { actorOf, errorResponses, TENANT_ID } from '../schemas.ts';

/**
 * The sign-in experience in Logto's shape, for the parts Sesame has: the sign-in mode, email as the
 * one identifier with a code and/or a password, whether sign-up asks for a password, the password
 * policy and the code policy. `passwordAtSignUp` is Sesame's own field: Logto's signUp.password is a
 * boolean, and Sesame also has "optional" (a Skip link).
 */
const signInMethod = z.object({
  identifier: z.literal('email', { error: 'identifier must be "email": Sesame signs people in by email address only' }),
  password: z.boolean(),
  verificationCode: z.boolean(),
  isPasswordPrimary: z.boolean(),
});

const experienceSchema = z
  .object({
    tenantId: z.string(),
    id: z.string(),
    signInMode: z.enum(SIGN_IN_MODES),
    signIn: z.object({ methods: z.array(signInMethod) }),
    signUp: z.object({ identifiers: z.array(z.literal('email')), password: z.boolean(), verify: z.boolean() }),
    passwordAtSignUp: z.enum(PASSWORD_AT_SIGN_UP).meta({ description: 'Sesame: off, optional (a Skip link) or required' }),
    passwordPolicy: z.object({
      length: z.object({ min: z.number(), max: z.number() }),
      rejects: z.object({ pwned: z.boolean(), userInfo: z.boolean() }),
    }),
    verificationCodePolicy: z.object({
      expirationDuration: z.number().meta({ description: 'Seconds a code stays valid' }),
      maxRetryAttempts: z.number(),
      link: z.boolean().meta({ description: "Sesame: the code's email also carries a sign-in link, valid as long as the code and spent with it" }),
    }),
    mfa: z
      .object({ factors: z.array(z.enum(MFA_FACTORS)), policy: z.enum(MFA_API_POLICIES) })
      .meta({ description: 'The second factor: factors [] is off; UserControlled: people may turn it on (account page); Mandatory: set up at next sign-in' }),
    languageInfo: z
      .object({ autoDetect: z.boolean(), fallbackLanguage: z.enum(LANGUAGES) })
      .meta({ description: "The pages' and emails' language: the app's ui_locales, then (autoDetect) the browser's Accept-Language, then fallbackLanguage" }),
  })
  .meta({ id: 'SignInExperience' });

function toLogto(experience: Experience): z.output<typeof experienceSchema> {
  const password = experience.signInMethods.includes('password');
  const verificationCode = experience.signInMethods.includes('verificationCode');
  return {
    tenantId: TENANT_ID,
    id: 'default',
    signInMode: experience.signInMode,
    signIn: { methods: [{ identifier: 'email', password, verificationCode, isPasswordPrimary: experience.signInMethods[0] === 'password' }] },
    signUp: { identifiers: ['email'], password: experience.passwordAtSignUp !== 'off', verify: true },
    passwordAtSignUp: experience.passwordAtSignUp,
    passwordPolicy: {
      length: { min: experience.passwordPolicy.minLength, max: PASSWORD_MAX_LENGTH },
      rejects: { pwned: experience.passwordPolicy.rejectCommon, userInfo: experience.passwordPolicy.rejectEmail },
    },
    verificationCodePolicy: { expirationDuration: experience.verificationCode.ttlMinutes * 60, maxRetryAttempts: experience.verificationCode.maxAttempts, link: experience.verificationCode.link },
    mfa: mfaToLogto(experience.mfa.policy),
    languageInfo: { ...experience.languageInfo },
  };
}

const patchBody = z.strictObject({
  signInMode: z.enum(SIGN_IN_MODES, { error: `signInMode must be one of ${SIGN_IN_MODES.join(', ')}` }).optional(),
  signIn: z.strictObject({ methods: z.array(signInMethod.strict()).length(1, 'signIn.methods must hold exactly one entry, for the email identifier') }).optional(),
  signUp: z
    .strictObject({
      identifiers: z.array(z.literal('email', { error: 'Sesame signs people up by email address only' })).optional(),
      password: z.boolean().optional(),
      verify: z.literal(true, { error: 'signUp.verify must be true: Sesame always verifies the email address by code' }).optional(),
    })
    .optional(),
  passwordAtSignUp: z.enum(PASSWORD_AT_SIGN_UP).optional(),
  passwordPolicy: z
    .strictObject({
      length: z.strictObject({ min: z.number().optional(), max: z.literal(PASSWORD_MAX_LENGTH, { error: `passwordPolicy.length.max is fixed at ${PASSWORD_MAX_LENGTH}` }).optional() }).optional(),
      rejects: z.strictObject({ pwned: z.boolean().optional(), userInfo: z.boolean().optional() }).optional(),
    })
    .optional(),
  verificationCodePolicy: z
    .strictObject({
      expirationDuration: z
        .number()
        .refine((seconds) => Number.isInteger(seconds / 60), 'verificationCodePolicy.expirationDuration must be whole minutes in seconds (60 to 3600)')
        .optional(),
      maxRetryAttempts: z.number().optional(),
      link: z.boolean({ error: 'verificationCodePolicy.link must be true or false' }).optional(),
    })
    .optional(),
  mfa: z
    .strictObject({
      factors: z
        .array(z.enum(MFA_FACTORS, { error: 'mfa.factors may hold Totp and BackupCode (a passkey is a way to sign in, not a second factor)' }))
        .refine((factors) => factors.length === 0 || factors.includes('Totp'), 'mfa.factors needs Totp (backup codes come with it), or [] to turn the second factor off'),
      policy: z.enum(MFA_API_POLICIES, { error: 'mfa.policy must be UserControlled or Mandatory' }),
    })
    .optional(),
  languageInfo: z
    .strictObject({
      autoDetect: z.boolean({ error: 'languageInfo.autoDetect must be true or false' }).optional(),
      fallbackLanguage: z.enum(LANGUAGES, { error: `languageInfo.fallbackLanguage must be one of ${LANGUAGES.join(', ')}` }).optional(),
    })
    .optional(),
});

/** Logto's fields onto Sesame's experience changes (range checks are saveExperience's, named in Sesame's terms). */
function toChanges(body: z.output<typeof patchBody>): ExperienceChanges {
  const changes: ExperienceChanges = {};
  if (body.signInMode !== undefined) changes.signInMode = body.signInMode;
  const method = body.signIn?.methods[0];
  if (method) {
    const methods = [...(method.verificationCode ? ['verificationCode'] : []), ...(method.password ? ['password'] : [])];
    if (method.isPasswordPrimary) methods.reverse();
    changes.signInMethods = methods;
  }
  if (body.passwordAtSignUp !== undefined) changes.passwordAtSignUp = body.passwordAtSignUp;
  else if (body.signUp?.password !== undefined) changes.passwordAtSignUp = body.signUp.password ? 'required' : 'off';
  if (body.passwordAtSignUp !== undefined && body.signUp?.password !== undefined && (body.passwordAtSignUp !== 'off') !== body.signUp.password) {
    throw new InvalidInputError('signUp.password and passwordAtSignUp disagree; send one of them');
  }
  const policy = body.passwordPolicy;
  if (policy?.length?.min !== undefined || policy?.rejects) {
    changes.passwordPolicy = {
      ...(policy.length?.min !== undefined && { minLength: policy.length.min }),
      ...(policy.rejects?.pwned !== undefined && { rejectCommon: policy.rejects.pwned }),
      ...(policy.rejects?.userInfo !== undefined && { rejectEmail: policy.rejects.userInfo }),
    };
  }
  const codes = body.verificationCodePolicy;
  if (codes) {
    changes.verificationCode = {
      ...(codes.expirationDuration !== undefined && { ttlMinutes: codes.expirationDuration / 60 }),
      ...(codes.maxRetryAttempts !== undefined && { maxAttempts: codes.maxRetryAttempts }),
      ...(codes.link !== undefined && { link: codes.link }),
    };
  }
  if (body.languageInfo) changes.languageInfo = { ...body.languageInfo };
  // As in Logto, mfa is given whole: its factors and its policy.
  if (body.mfa) changes.mfa = { policy: body.mfa.factors.length === 0 ? 'off' : body.mfa.policy === 'Mandatory' ? 'required' : 'optional' };
  return changes;
}

/** Sesame's field names in saveExperience's messages, as the API caller wrote them. */
const FIELDS: Record<string, string> = {
  'verificationCode.ttlMinutes': 'verificationCodePolicy.expirationDuration (in minutes)',
  'verificationCode.maxAttempts': 'verificationCodePolicy.maxRetryAttempts',
  'verificationCode.link': 'verificationCodePolicy.link',
  'passwordPolicy.minLength': 'passwordPolicy.length.min',
  signInMethods: 'signIn.methods (password or verificationCode)',
};

export function signInExperienceRoutes(scope: FastifyInstance, deps: ApiDeps): void {
  const api = scope.withTypeProvider<ZodTypeProvider>();
  const { db, config } = deps;

  api.get(
    '/sign-in-exp',
    { schema: { tags: ['Sign-in experience'], operationId: 'GetSignInExp', summary: 'Get the sign-in experience', response: { 200: experienceSchema, ...errorResponses() } } },
    async () => toLogto(await loadExperience(db, config.codeTtlMinutes)),
  );

  api.patch(
    '/sign-in-exp',
    {
      schema: {
        tags: ['Sign-in experience'],
        operationId: 'UpdateSignInExp',
        summary: 'Change the sign-in experience',
        description: 'Only the fields given change; the result is validated as a whole (an invalid combination is refused and nothing is written). Applies to the next sign-in.',
        body: patchBody,
        response: { 200: experienceSchema, ...errorResponses(400) },
      },
    },
    async (request) => {
      try {
        return toLogto(await updateExperience(db, toChanges(request.body), actorOf(request), config.codeTtlMinutes, deps.now()));
      } catch (error) {
        if (error instanceof InvalidExperienceError) {
          error.message = Object.entries(FIELDS).reduce((message, [field, name]) => message.split(field).join(name), error.message);
        }
        throw error;
      }
    },
  );
}
