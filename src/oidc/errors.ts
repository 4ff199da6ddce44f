import { Phrase } from '../i18n/index.ts';

/**
 * The OAuth errors a browser can land on that have person-readable words, in every language under
 * `errors.oidc.<code>` in locales/*.json.
 */
const KNOWN = new Set(['invalid_client', 'invalid_redirect_uri', 'invalid_request', 'session_not_found', 'invalid_scope', 'unauthorized_client', 'invalid_target']);

/** Codes whose description is shown with the plain words: it says what to fix (it names the resource, say). */
const WITH_DESCRIPTION = new Set(['invalid_request', 'invalid_target']);

/**
 * The error page's title and message. The description oidc-provider gives is for the app's developer
 * and stays in English (it names parameters and commands); it is shown after the translated words
 * where it says what to fix, and alone for an error we have no words for.
 */
export function describeOidcError(code: string | undefined, description: string | undefined): { title: Phrase; message: Phrase | string } {
  if (code && KNOWN.has(code)) {
    const title = new Phrase(`errors.oidc.${code}.title`);
    const message = new Phrase(`errors.oidc.${code}.message`);
    return description && WITH_DESCRIPTION.has(code)
      ? { title, message: new Phrase('errors.oidc.withDescription', { message, description }) }
      : { title, message };
  }
  return {
    title: new Phrase('errors.oidc.other.title'),
    message: description ? `${capitalize(description)}.` : new Phrase('errors.oidc.other.message'),
  };
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** Longest resource indicator repeated in a description or log line. */
const MAX_INDICATOR = 200;

function shown(indicator: string): string {
  return indicator.length > MAX_INDICATOR ? `${indicator.slice(0, MAX_INDICATOR)}...` : indicator;
}

/** The command that registers an API resource, for an operator to copy. */
function resourceCreateCommand(indicator: string): string {
  return `sesame resource create --indicator ${shown(indicator)} --name NAME`;
}

/**
 * The invalid_target descriptions. They name the resource and the command that registers it: the
 * app, the error page and the refusal log line all carry the same words.
 */
export function unknownResourceDescription(indicator: string): string {
  return `resource ${shown(indicator)} is not registered; register it with \`${resourceCreateCommand(indicator)}\` or remove it from the app's resources`;
}

export function resourceNotRequestedDescription(indicator: string, registered: boolean): string {
  const fix = registered
    ? 'add it to the resources the app signs in with, then sign in again'
    : `register it with \`${resourceCreateCommand(indicator)}\`, add it to the resources the app signs in with, then sign in again`;
  return `resource ${shown(indicator)} was not requested at sign-in; ${fix}`;
}
