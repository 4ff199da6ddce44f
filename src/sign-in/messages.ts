import type { LockScope } from './lockout.ts';

/**
 * Every sentence the sign-in pages (and the mail they send) show a person, under a stable key: the
 * keys are what translations will hang on later, so rename a key only with its translations. A
 * message with parameters is a function of them. Protocol text meant for the app's developer (OAuth
 * error_description) is not here.
 */
const MESSAGES = {
  // Page titles and labels.
  'title.signIn': 'Sign in',
  'title.checkEmail': 'Check your email',
  'title.password': 'Enter your password',
  'title.createPassword': 'Create a password',
  'title.resetPassword': 'Choose a new password',
  'title.forgotPassword': 'Reset your password',
  'title.consent': ({ appName }: { appName: string }) => `${appName} wants to access your account`,
  'label.createAccount': 'Create account',
  'label.saveAndSignIn': 'Save and sign in',
  'label.sendCode': 'Send code',
  'label.backToSignIn': 'Back to sign in',
  'hint.passwordNext': 'Next, you will enter your password.',
  'hint.forgotPassword': "We'll email you a 6-digit code to reset your password.",

  // The address form (normalizeEmail words each problem).
  'email.malformed': 'Enter one email address, at most 254 characters long.',
  'email.missing': 'Enter your email address.',
  'email.lineBreaks': 'An email address cannot contain line breaks or tabs.',
  'email.tooLong': 'That email address is too long (254 characters at most).',
  'email.localTooLong': 'The part before the @ is too long (64 characters at most).',
  'email.invalid': 'Enter an email address like name@example.com.',

  // Sending a code.
  'send.cooldown': ({ seconds }: { seconds: number }) => `Please wait ${seconds} s before asking for another code.`,
  'send.rateLimited': ({ minutes }: { minutes: number }) => `Too many codes were requested. Try again in ${minutes} min.`,
  'send.addressRefused':
    'We can’t deliver email to this address: its mail server refused it. Check the address for typos, or use another one.',
  'send.failed': 'We could not send the code right now. Please try again in a moment.',
  'send.slow': 'Our mail server is slow to confirm, so the email may take a few minutes to arrive. The code in it will work.',
  'send.resent': 'We sent you a new code.',

  // Entering a code.
  'code.malformed': 'Enter the 6-digit code from the email.',
  'code.wrong': 'That code is not right.',
  'code.expired': 'That code has expired. Send a new one.',
  'code.dead': 'That code can no longer be used. Send a new one.',
  'code.usedUp': 'Too many wrong tries: that code no longer works. Send a new one.',

  // The sign-in link in the code's email (src/sign-in/routes/link.ts).
  'link.wrong': 'That sign-in link does not match your latest code. Use the newest email, or type its code.',
  'link.elsewhere.title': 'Finish in your other browser',
  'link.expired.title': 'This link has expired',
  'link.expired.message': 'Sign-in links work for as long as their code, and this one has run out. Go back to the app and ask for a new email.',
  'link.dead.title': 'This link no longer works',
  'link.dead.message': 'Too many wrong tries were made with its code, so it was stopped for your security. Go back to the app and ask for a new email.',
  'link.used.title': 'This link was already used',
  'link.used.message': 'Each link works once, together with its code. If that was you, you are done. If not, go back to the app and start again.',
  'link.invalid.title': 'This link does not work',
  'link.invalid.message': 'It may be incomplete, or a newer email replaced it. Open the link from the newest email, or type its code where you started.',
  'link.off.title': 'Sign-in links are turned off',
  'link.off.message': 'Type the code from the email in the browser where you started signing in.',

  // Passwords.
  'password.malformed': 'Enter your password (at most 256 characters).',
  'password.mismatch': 'That email and password do not match. Check them and try again.',
  'password.tooShort': ({ min }: { min: number }) => `Use at least ${min} characters.`,
  'password.tooLong': ({ max }: { max: number }) => `Use at most ${max} characters.`,
  'password.isEmail': 'Your password cannot be your email address.',
  'password.common': 'That password is one of the most common ones and easy to guess. Choose another.',

  // Lockout: how long to wait, and whether this person's own browsers are spared.
  'lockout.paused': ({ retryAfterSeconds, scope }: { retryAfterSeconds: number; scope: LockScope }) => {
    const minutes = Math.ceil(retryAfterSeconds / 60);
    const wait = minutes >= 120 ? `${Math.ceil(minutes / 60)} hours` : `${minutes} minute${minutes === 1 ? '' : 's'}`;
    const paused = `Too many failed attempts. For your security, signing in with this address is paused: try again in ${wait}.`;
    // Only the address-wide lock spares the browsers the address signed in on before: say so.
    return scope === 'address' ? `${paused} A browser where you signed in before can still sign in.` : paused;
  },

  // The second factor (routes/mfa.ts, the account page's security section).
  'title.mfa': 'Two-step verification',
  'title.mfaSetup': 'Set up two-step verification',
  'title.backupCodes': 'Save your backup codes',
  'mfa.totpMalformed': 'Enter the 6-digit code from your authenticator app.',
  'mfa.totpWrong': 'That code is not right. Check the time on your phone and try the current code.',
  'mfa.totpReused': 'That code was already used. Wait for the next one in your app.',
  'mfa.backupMalformed': 'Enter one of your backup codes, like abcde-23456.',
  'mfa.backupWrong': 'That backup code is not right, or was already used.',
  'mfa.setupWrong': 'That code does not match. Make sure you scanned this QR code, then type the code your app shows now.',
  'mfa.setupGone': 'This setup was finished or reset elsewhere. Start again.',

  // Whole-page refusals.
  'expired.title': 'This sign-in has expired',
  'expired.message': 'The sign-in took too long or was already finished. Go back to the app and start again.',
  'methodOff.title': 'Not available',
  'methodOff.message': 'This way of signing in is turned off. Go back and use another one.',

  // What a third-party app asks for, by scope.
  'scope.openid': 'Know who you are',
  'scope.email': 'See your email address',
  'scope.profile': 'See your name and username',
  'scope.offline_access': 'Stay signed in when you are not using it',

  // Mail.
  'mail.appFallback': 'your app',
  'mail.passwordChanged.subject': 'Your password was changed',
  'mail.passwordChanged.message': ({ email }: { email: string }) =>
    `The password of your account ${email} was just changed, and every other device was signed out. If this was not you, reset your password again right away.`,
} as const satisfies Record<string, string | ((params: never) => string)>;

export type MessageKey = keyof typeof MESSAGES;
type Params<K extends MessageKey> = (typeof MESSAGES)[K] extends (params: infer P) => string ? [params: P] : [];

/** The message under `key`, with its parameters when it takes some: `message('send.cooldown', { seconds: 42 })`. */
export function message<K extends MessageKey>(key: K, ...params: Params<K>): string {
  const entry: string | ((params: never) => string) = MESSAGES[key];
  return typeof entry === 'function' ? (entry as (params: unknown) => string)(params[0]) : entry;
}

/** What a scope lets an app do, in words, when the catalogue has words for it (`scope.<name>`). */
export function scopeDescription(scope: string): string | undefined {
  const key = `scope.${scope}`;
  return Object.hasOwn(MESSAGES, key) ? message(key as Extract<MessageKey, `scope.${string}`>) : undefined;
}
