import { message } from './messages.ts';
import type { Phrase } from '../i18n/index.ts';

export type EmailResult = { ok: true; email: string } | { ok: false; error: Phrase };

const LOCAL_PART = /^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/i;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/**
 * Trims, lower-cases and validates an address before it is used anywhere: the result is safe to put
 * in a mail header (no CR/LF, no quotes, no display names) and is the key an account is stored under.
 * The whole address is lower-cased, not only the domain, so A@x.io and a@x.io are one account.
 */
export function normalizeEmail(input: unknown): EmailResult {
  if (typeof input !== 'string' || input.trim() === '') return { ok: false, error: message('email.missing') };
  if (/[\r\n\t\0]/.test(input)) return { ok: false, error: message('email.lineBreaks') };
  const email = input.trim().toLowerCase();
  if (email.length > 254) return { ok: false, error: message('email.tooLong') };
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1 || email.indexOf('@') !== at) {
    return { ok: false, error: message('email.invalid') };
  }
  const local = email.slice(0, at);
  const domain = email.slice(at + 1);
  // RFC 5321 4.5.3.1: a local part of at most 64 octets, a path of at most 256 with its <>.
  if (local.length > 64) return { ok: false, error: message('email.localTooLong') };
  const labels = domain.split('.');
  if (
    local.length > 64 ||
    !LOCAL_PART.test(local) ||
    labels.length < 2 ||
    !labels.every((label) => DOMAIN_LABEL.test(label)) ||
    /^\d+$/.test(labels[labels.length - 1] ?? '')
  ) {
    return { ok: false, error: message('email.invalid') };
  }
  return { ok: true, email };
}
