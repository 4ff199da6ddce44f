import { ACCOUNT_APPLICATION_ID } from '../db/applications.ts';
import { Phrase } from '../i18n/index.ts';

/**
 * The name sign-in pages, mails and sign-out pages show for an app: the name it was registered
 * with, except Sesame's own account page, whose name is Sesame's words and so speaks the page's
 * language ("Ihr Sesame-Konto"). The admin console keeps its name: it is an operator's tool, in
 * English like the console itself.
 */
export function appDisplayName(client: { clientId: string; clientName?: string } | undefined): string | Phrase | undefined {
  if (client?.clientId === ACCOUNT_APPLICATION_ID) return new Phrase('messages.account.appName');
  return client?.clientName;
}
