import { html, type SafeHtml } from './html.ts';

export interface PageContext {
  mailboxUrl?: string;
}

export const NOT_LOGGED_IN = 'You are not logged in to this website';

function layout(ctx: PageContext, title: string, body: SafeHtml): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Bookstore</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/bookstore.css">
</head>
<body>
<header class="site-header">
  <a class="brand" href="/"><span class="brand-mark" aria-hidden="true">B</span> Bookstore</a>
  <nav class="header-links" aria-label="Demo tools">
    <span class="tag">Sesame demo app</span>
    ${ctx.mailboxUrl ? html`<a class="mailbox-link" href="${ctx.mailboxUrl}" target="_blank" rel="noopener">Open the dev mailbox</a>` : ''}
  </nav>
</header>
<main id="main" class="container">
${body}
</main>
<footer class="site-footer">
  ${ctx.mailboxUrl ? html`<p>Testing locally? Your sign-in code arrives in the dev mailbox (link at the top).</p>` : ''}
  <p>A sample app that signs people in with Sesame over OpenID Connect.</p>
</footer>
</body>
</html>
`.value;
}

function formatClaim(name: string, value: unknown): string {
  if (typeof value === 'number' && ['iat', 'exp', 'auth_time', 'updated_at', 'nbf'].includes(name)) {
    return `${value} (${new Date(value * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')})`;
  }
  if (value === null) return '(not set)';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function claimsTable(caption: string, claims: Record<string, unknown>): SafeHtml {
  return html`<div class="table-wrap"><table>
<caption>${caption}</caption>
<thead><tr><th scope="col">Claim</th><th scope="col">Value</th></tr></thead>
<tbody>
${Object.entries(claims).map(([name, value]) => html`<tr><th scope="row"><code>${name}</code></th><td>${formatClaim(name, value)}</td></tr>\n`)}
</tbody>
</table></div>`;
}

export function signedOutPage(ctx: PageContext): string {
  return layout(
    ctx,
    'Welcome',
    html`<section class="card hero">
  <h1>${NOT_LOGGED_IN}</h1>
  <p>Sign in with your email address: Sesame sends you a one-time code, no password needed.</p>
  <p><a class="button" href="/sign-in">Sign In</a></p>
</section>`,
  );
}

export function signedInPage(ctx: PageContext, claims: Record<string, unknown>): string {
  const who = typeof claims.email === 'string' ? claims.email : String(claims.sub ?? 'unknown user');
  return layout(
    ctx,
    'Your account',
    html`<section class="card hero">
  <h1>You are logged in</h1>
  <p>Signed in as <strong class="email">${who}</strong>.</p>
  <p class="actions"><a class="button secondary" href="/profile">View profile</a> <a class="button" href="/sign-out">Sign Out</a></p>
</section>
<section class="card">
  <h2>ID token claims</h2>
  ${claimsTable('Claims from the ID token Sesame issued', claims)}
</section>`,
  );
}

export function profilePage(ctx: PageContext, userinfo: Record<string, unknown>): string {
  return layout(
    ctx,
    'Profile',
    html`<section class="card">
  <h1>Your profile</h1>
  <p>Fetched just now from Sesame's userinfo endpoint with your access token.</p>
  ${claimsTable('Userinfo response', userinfo)}
  <p class="actions"><a class="button secondary" href="/">Back to the bookstore</a> <a class="button" href="/sign-out">Sign Out</a></p>
</section>`,
  );
}

export interface ErrorView {
  title: string;
  message: string;
  code?: string;
  detail?: string;
  signInAgain?: boolean;
}

export function errorPage(ctx: PageContext, view: ErrorView): string {
  return layout(
    ctx,
    view.title,
    html`<section class="card error" role="alert">
  <h1>${view.title}</h1>
  <p class="message">${view.message}</p>
  ${view.code ? html`<p class="code">Error code: <code>${view.code}</code></p>` : ''}
  ${view.detail ? html`<p class="detail">${view.detail}</p>` : ''}
  <p class="actions">${view.signInAgain ? html`<a class="button" href="/sign-in">Sign In</a> ` : ''}<a class="button secondary" href="/">Back to the home page</a></p>
</section>`,
  );
}
