import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type * as client from 'openid-client';
import { HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { codeFrom } from '../helpers/smtp.ts';
import { startSesameWithMail, type TestSesameWithMail } from '../helpers/sesame.ts';
import { discover, startAuthorization } from '../helpers/oidc.ts';
import type { Application } from '../../src/db/applications.ts';

const REDIRECT = 'http://127.0.0.1:9/callback';
const POST_LOGOUT = 'http://127.0.0.1:9/';

/** The headers helmet manages on Sesame's own pages; every HTML response must carry the same. */
const SECURITY_HEADERS = [
  'content-security-policy',
  'cross-origin-resource-policy',
  'origin-agent-cluster',
  'referrer-policy',
  'x-content-type-options',
  'x-dns-prefetch-control',
  'x-download-options',
  'x-frame-options',
  'x-permitted-cross-domain-policies',
  'x-xss-protection',
];

function securityHeaders(headers: Headers): Record<string, string | null> {
  return Object.fromEntries(SECURITY_HEADERS.map((name) => [name, headers.get(name)]));
}

describe('security headers on every HTML page, oidc-provider’s included', () => {
  let sesame: TestSesameWithMail;
  let app: Application;
  let config: client.Configuration;
  let reference: Record<string, string | null>;

  beforeAll(async () => {
    sesame = await startSesameWithMail();
    app = await sesame.registerApp({ redirectUris: [REDIRECT], postLogoutRedirectUris: [POST_LOGOUT] });
    config = await discover(sesame.issuer, app);
    // One of Sesame's own pages: the reference set.
    const home = await fetch(`${sesame.config.endpoint}/`);
    reference = securityHeaders(home.headers);
  });
  afterAll(() => sesame?.stop());

  function expectSameHeaders(page: PageResponse | Response) {
    expect(page.headers.get('content-type') ?? '').toContain('text/html');
    expect(securityHeaders(page.headers)).toEqual(reference);
  }

  it('has a complete reference set on Sesame’s own pages', () => {
    for (const name of SECURITY_HEADERS) expect(reference[name], name).toBeTruthy();
    expect(reference['x-frame-options']).toBe('SAMEORIGIN');
    expect(reference['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(reference['content-security-policy']).toContain("script-src 'self'");
    expect(reference['referrer-policy']).toBe('no-referrer');
    expect(reference['x-content-type-options']).toBe('nosniff');
  });

  it('sends them with the error page for a bad redirect_uri at /oidc/auth', async () => {
    const start = await startAuthorization(config, 'http://127.0.0.1:9/not-registered');
    const page = await new HttpBrowser().request(start.url);
    expect(page.status).toBe(400);
    expect(page.body).toContain('<html');
    expectSameHeaders(page);
  });

  /** Signs a new person in with `browser`; returns the page the sign-in ended on. */
  async function signIn(browser: HttpBrowser, extra: Record<string, string> = {}, stopAt?: string): Promise<PageResponse> {
    const start = await startAuthorization(config, REDIRECT, extra);
    const emailPage = await browser.follow(start.url);
    const email = `headers.${Date.now()}.${Math.random().toString(36).slice(2)}@example.com`;
    const before = sesame.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    const code = codeFrom(await sesame.smtp.waitForMail(email, { after: before }));
    return browser.submit(codePage, '/code', { code }, stopAt);
  }

  /** oidc-provider's self-submitting pages carry one inline script, allowed by its hash and nothing else. */
  function expectHashAllowedScript(page: PageResponse) {
    const { 'content-security-policy': csp, ...rest } = securityHeaders(page.headers);
    const { 'content-security-policy': referenceCsp, ...referenceRest } = reference;
    expect(page.headers.get('content-type') ?? '').toContain('text/html');
    expect(rest).toEqual(referenceRest);
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.body)![1]!;
    const digest = createHash('sha256').update(script).digest('base64');
    expect(csp).toContain(`script-src 'self' 'sha256-${digest}'`);
    // Otherwise the same policy, directive for directive.
    const directives = (value: string) =>
      value
        .split(';')
        .map((directive) => directive.trim())
        .filter((directive) => !directive.startsWith('script-src '))
        .sort();
    expect(directives(csp!)).toEqual(directives(referenceCsp!));
  }

  it('sends them with the sign-out question at /oidc/session/end, so it cannot be framed', async () => {
    const browser = new HttpBrowser();
    await signIn(browser, {}, REDIRECT);
    const page = await browser.request(`${sesame.issuer}/session/end`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('id="op.logoutForm"');
    expectSameHeaders(page);
    expect(page.headers.get('x-frame-options')).toBe('SAMEORIGIN');

    // The form still posts under this CSP (it has no form-action), and the success page has them too.
    const done = await browser.submit(page, '/session/end/confirm', { logout: 'yes' });
    expect(done.status).toBe(200);
    expect(done.url).toContain('/oidc/session/end/success');
    expectSameHeaders(done);
  });

  it('sends them with the automatic sign-out page, which runs only our own script', async () => {
    const browser = new HttpBrowser();
    await signIn(browser, {}, REDIRECT);
    const url = new URL(`${sesame.issuer}/session/end`);
    url.searchParams.set('client_id', app.id);
    url.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
    const page = await browser.request(url.toString());
    expect(page.status).toBe(200);
    expect(page.body).toContain('data-autosubmit="op.logoutForm"');
    expectSameHeaders(page);
    // No inline script: the auto-submit comes from /assets/sesame.js, which script-src 'self' allows.
    expect(page.body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body).toContain('<script src="/assets/sesame.js"');
    const back = await browser.submit(page, '/session/end/confirm', { logout: 'yes' }, POST_LOGOUT);
    expect(back.location).toBe(POST_LOGOUT);
  });

  it('sends them with the self-submitting sign-out page for a browser without a session', async () => {
    const page = await new HttpBrowser().request(`${sesame.issuer}/session/end`);
    expect(page.status).toBe(200);
    expect(page.body).toContain('/oidc/session/end/confirm');
    expectHashAllowedScript(page);
  });

  it('sends them with the form_post response, whose inline script the CSP allows by its hash', async () => {
    const page = await signIn(new HttpBrowser(), { response_mode: 'form_post' });
    expect(page.status).toBe(200);
    expect(page.body).toContain(`action="${REDIRECT}"`);
    expect(page.body).toContain('name="code"');
    expectHashAllowedScript(page);
  });

  it('sends them with oidc-provider’s answer to an unknown /oidc route and with Sesame’s 404 page', async () => {
    const unknown = await fetch(`${sesame.issuer}/no-such-endpoint`, { headers: { accept: 'text/html' } });
    expect(unknown.status).toBe(404);
    for (const name of SECURITY_HEADERS) expect(unknown.headers.get(name), name).toBe(reference[name]);
    const notFound = await fetch(`${sesame.config.endpoint}/no-such-page`, { headers: { accept: 'text/html' } });
    expect(notFound.status).toBe(404);
    expectSameHeaders(notFound);
  });

  it('answers alike whether a request under /oidc comes over HTTP (straight to oidc-provider) or through fastify (inject)', async () => {
    // Over HTTP the server hands /oidc to oidc-provider before fastify (src/http/oidc.ts, oidcFastLane);
    // app.inject (the console's and the account page's token requests) goes through fastify's /oidc routes.
    for (const path of ['/.well-known/openid-configuration', '/jwks', '/no-such-endpoint']) {
      const overHttp = await fetch(`${sesame.issuer}${path}`, { headers: { accept: 'text/html' } });
      const injected = await sesame.app.inject({ url: `/oidc${path}`, headers: { accept: 'text/html' } });
      expect(injected.statusCode, path).toBe(overHttp.status);
      expect(injected.headers['cache-control'], path).toBe(overHttp.headers.get('cache-control') ?? undefined);
      for (const name of SECURITY_HEADERS) expect(injected.headers[name], `${path} ${name}`).toBe(overHttp.headers.get(name) ?? undefined);
      if (overHttp.status === 200) expect(injected.json(), path).toEqual(await overHttp.json());
      else await overHttp.arrayBuffer();
    }
    // Endpoint URLs in discovery carry the mount path either way.
    const discovery = (await (await fetch(`${sesame.issuer}/.well-known/openid-configuration`)).json()) as Record<string, string>;
    expect(discovery.token_endpoint).toBe(`${sesame.issuer}/token`);
    expect(discovery.issuer).toBe(sesame.issuer);
  });

  it('does not take an encoded /oidc prefix for the mount: Sesame’s 404 page', async () => {
    for (const path of ['/%6Fidc/.well-known/openid-configuration', '/oidcx/jwks', '/OIDC/jwks']) {
      const response = await fetch(`${sesame.config.endpoint}${path}`, { headers: { accept: 'text/html' } });
      expect(response.status, path).toBe(404);
      expectSameHeaders(response);
      expect(await response.text()).not.toContain('jwks_uri');
    }
  });
});
