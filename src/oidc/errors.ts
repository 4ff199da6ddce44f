/** Person-readable words for the OAuth errors a browser can land on. */
const MESSAGES: Record<string, { title: string; message: string }> = {
  invalid_client: {
    title: 'Unknown application',
    message: 'The application that sent you here is not registered with this sign-in service. Contact the app’s owner.',
  },
  invalid_redirect_uri: {
    title: 'Unregistered return address',
    message:
      'The application asked to send you back to an address that is not registered for it, so the sign-in was stopped to protect you.',
  },
  invalid_request: {
    title: 'Something is wrong with this sign-in link',
    message: 'The sign-in request is missing something or contains a mistake. Go back to the app and start again.',
  },
  session_not_found: {
    title: 'This sign-in has expired',
    message: 'The sign-in took too long or was already finished. Go back to the app and start again.',
  },
  invalid_scope: {
    title: 'Unsupported permissions requested',
    message: 'The application asked for permissions this service does not offer.',
  },
  unauthorized_client: {
    title: 'Application not allowed',
    message: 'This application is not allowed to sign people in this way.',
  },
  invalid_target: {
    title: 'Unknown API',
    message: 'The application asked for access to an API this sign-in service does not know.',
  },
};

/** Codes whose description is shown with the plain words: it says what to fix (it names the resource, say). */
const WITH_DESCRIPTION = new Set(['invalid_request', 'invalid_target']);

export function describeOidcError(code: string | undefined, description: string | undefined): { title: string; message: string } {
  const known = code ? MESSAGES[code] : undefined;
  if (known) {
    return description && WITH_DESCRIPTION.has(code!)
      ? { title: known.title, message: `${known.message} (${description})` }
      : known;
  }
  return {
    title: 'Sign-in could not continue',
    message: description ? `${capitalize(description)}.` : 'Something went wrong. Go back to the app and start again.',
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
