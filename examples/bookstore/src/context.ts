import type { ConfigurationSource } from './oidc.ts';
import type { Replies } from './replies.ts';
import type { Pages } from './views.ts';

/** What every route module is registered with: settled once in buildDemoApp, read-only after. */
export interface DemoContext {
  clientId: string;
  /** Where Sesame sends the browser back after sign-in: `${baseUrl}/callback`. */
  redirectUri: string;
  /** Where Sesame sends the browser after sign-out: `${baseUrl}/`. */
  homeUrl: string;
  /** Sesame's discovered configuration, fetched on first use. */
  oidcConfig: ConfigurationSource;
  pages: Pages;
  replies: Replies;
}
