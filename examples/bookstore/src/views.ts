import { fileURLToPath } from 'node:url';
import { Eta } from 'eta';

export interface PageContext {
  mailboxUrl?: string;
}

export interface ErrorView {
  title: string;
  message: string;
  code?: string;
  detail?: string;
  signInAgain?: boolean;
}

interface ClaimRow {
  name: string;
  value: string;
}

const TIME_CLAIMS = new Set(['iat', 'exp', 'auth_time', 'updated_at', 'nbf']);

function formatClaim(name: string, value: unknown): string {
  if (typeof value === 'number' && TIME_CLAIMS.has(name)) {
    return `${value} (${new Date(value * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})`;
  }
  if (value === null) return '(not set)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

const claimRows = (claims: Record<string, unknown>): ClaimRow[] =>
  Object.entries(claims).map(([name, value]) => ({ name, value: formatClaim(name, value) }));

/**
 * The Bookstore's pages: eta templates in ../views, every `<%= %>` HTML-escaped (the one escape), so
 * nothing Sesame or the query string sends can add markup.
 */
export class Pages {
  private readonly eta = new Eta({
    views: fileURLToPath(new URL('../views', import.meta.url)),
    autoEscape: true,
    cache: true,
    useWith: false,
  });

  constructor(private readonly ctx: PageContext) {}

  signedOut(): string {
    return this.render('signed-out', { title: 'Welcome' });
  }

  signedIn(claims: Record<string, unknown>): string {
    const who = typeof claims.email === 'string' ? claims.email : String(claims.sub ?? 'unknown user');
    return this.render('signed-in', { title: 'Your account', who, claims: claimRows(claims) });
  }

  profile(userinfo: Record<string, unknown>): string {
    return this.render('profile', { title: 'Profile', claims: claimRows(userinfo) });
  }

  error(view: ErrorView): string {
    return this.render('error', { ...view });
  }

  private render(page: string, data: Record<string, unknown>): string {
    return this.eta.render(`./${page}`, { mailboxUrl: this.ctx.mailboxUrl, ...data });
  }
}
