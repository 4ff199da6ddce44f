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
};

export function describeOidcError(code: string | undefined, description: string | undefined): { title: string; message: string } {
  const known = code ? MESSAGES[code] : undefined;
  if (known) {
    return description && code === 'invalid_request'
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
