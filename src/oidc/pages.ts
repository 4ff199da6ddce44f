/**
 * The pages the OIDC layer answers with: oidc-provider's error page, the logout confirmation and the
 * "signed out" page (provider.ts), and the 503 page (faults.ts). The OIDC layer names a page and its
 * data; the composition root (src/server.ts) passes in the app's one renderer (src/http/views.ts).
 */
import type { Language, Phrase } from '../i18n/index.ts';

export interface OidcPages {
  render(page: 'error' | 'logout' | 'signed-out', data: OidcPageData): string;
}

export type OidcPageData = {
  /** Words or a phrase the renderer translates into `lang`. */
  title: string | Phrase;
  message?: string | Phrase;
  /** The page's language (see pageLanguage in provider.ts); English when absent. */
  lang?: Language;
  /** Where the language switcher returns to (this page's address). */
  here?: string;
  /** The error code, shown small under the message. */
  details?: string;
  appName?: string | Phrase;
  /** Logout: oidc-provider's own form, posted by the page. */
  providerForm?: string;
  autoConfirm?: boolean;
};
