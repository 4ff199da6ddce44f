import type en from '../../locales/en.json';
import { Phrase, render } from '../i18n/index.ts';
import type { LockScope } from './lockout.ts';

/**
 * Every sentence the sign-in pages (and the mail they send) show a person, under a stable key in
 * locales/<language>.json, section `messages`. The routes build a Phrase (the key and its values)
 * without knowing the language; the page renderer (src/http/views.ts) turns it into words in the
 * page's language, and a mail in the person's. Protocol text meant for the app's developer (OAuth
 * error_description) is not here.
 */

type Leaves<T, Prefix extends string = ''> = {
  [K in keyof T & string]: T[K] extends string ? `${Prefix}${K}` : Leaves<T[K], `${Prefix}${K}.`>;
}[keyof T & string];
/** Plural forms (`tooShort_one`, `tooShort_other`) are asked for by their base key with a `count`. */
type WithoutPlural<K extends string> = K extends `${infer Base}_${'zero' | 'one' | 'two' | 'few' | 'many' | 'other'}` ? Base : K;

export type MessageKey = WithoutPlural<Leaves<(typeof en)['messages']>>;

/** The message under `key`, with its values: `message('send.cooldown', { count: 42 })`. */
export function message(key: MessageKey, params?: Record<string, unknown>): Phrase {
  return new Phrase(`messages.${key}`, params);
}

/** A message's English words, for operators' tools (the CLI, the management API), which stay English. */
export function english(phrase: Phrase): string {
  return render(phrase, 'en');
}

/** "Paused: try again in N minutes/hours" (hours from two hours on), and whether this person's own browsers are spared. */
export function lockoutMessage({ retryAfterSeconds, scope }: { retryAfterSeconds: number; scope: LockScope }): Phrase {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  const wait = minutes >= 120 ? message('lockout.hours', { count: Math.ceil(minutes / 60) }) : message('lockout.minutes', { count: minutes });
  // Only the address-wide lock spares the browsers the address signed in on before: say so.
  return message(scope === 'address' ? 'lockout.pausedAddress' : 'lockout.paused', { wait });
}

const SCOPES = new Set(['openid', 'email', 'profile', 'offline_access']);

/** What a scope lets an app do, in words, when the catalogue has words for it (`scope.<name>`). */
export function scopeDescription(scope: string): Phrase | undefined {
  return SCOPES.has(scope) ? message(`scope.${scope}` as MessageKey) : undefined;
}
