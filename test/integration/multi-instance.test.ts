import { createHmac, createPublicKey, verify as verifySignature, type JsonWebKey } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import * as client from 'openid-client';
import { findForm, type HttpBrowser, type PageResponse } from '../helpers/browser.ts';
import { routeClient, routedBrowser, startSesameCluster, type ClusterOptions, type SesameCluster, type SesameInstance } from '../helpers/instances.ts';
import { discover, exchange, signInWithEmail, startAuthorization } from '../helpers/oidc.ts';
import { describePostgres, MIGRATIONS } from '../helpers/postgres.ts';
import { codeFrom } from '../helpers/smtp.ts';

/**
 * Issue 12, item 3: several instances on one PostgreSQL database behave as one server. Real Sesame
 * processes (the production build, NODE_ENV=production) behind a round-robin proxy, each with
 * ENDPOINT = the proxy and TRUST_PROXY=1; see test/helpers/instances.ts. Requests go through the
 * proxy (each to the next instance) or are pinned to one instance to show that what one instance did
 * is seen by another. A test that plays several clients sends straight to the instances with an
 * X-Forwarded-For of its own; through the proxy every client is 127.0.0.1.
 *
 * On failure the instances' logs (LOG_LEVEL=warn: refusals and errors) are printed.
 */

const REDIRECT = 'http://127.0.0.1:9/callback';
const POST_LOGOUT = 'http://127.0.0.1:9/';
/** SIGNING_KEY_GRACE_SECONDS of the four-instance cluster: a rotated signing key is published this long before it signs. */
const GRACE_SECONDS = 4;

type Jwk = Record<string, string>;
interface App {
  id: string;
  secret: string;
}

let emailCounter = 0;
const uniqueEmail = (label: string) => `${label}${++emailCounter}.${Date.now().toString(36)}@example.com`;

/** Registers an app with the real `sesame app create --json`. */
async function createApp(cluster: SesameCluster, name: string): Promise<App> {
  const result = await cluster.cli([
    'app',
    'create',
    '--name',
    name,
    '--type',
    'traditional',
    '--redirect-uri',
    REDIRECT,
    '--post-logout-redirect-uri',
    POST_LOGOUT,
    '--json',
  ]);
  if (result.code !== 0) throw new Error(`sesame app create failed (${result.code}): ${result.stderr}`);
  return JSON.parse(result.stdout) as App;
}

async function cli(cluster: SesameCluster, args: string[]): Promise<string> {
  const result = await cluster.cli(args);
  if (result.code !== 0) throw new Error(`sesame ${args.join(' ')} failed (${result.code}): ${result.stderr}${result.stdout}`);
  return result.stdout;
}

async function jwksOf(instance: SesameInstance): Promise<{ text: string; keys: Jwk[]; cacheControl: string | null }> {
  const response = await fetch(`${instance.url}/oidc/jwks`);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`instance ${instance.index} /oidc/jwks answered ${response.status}: ${text}`);
  return { text, keys: (JSON.parse(text) as { keys: Jwk[] }).keys, cacheControl: response.headers.get('cache-control') };
}

const jwtHeader = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as { kid: string; alg: string };
const jwtClaims = (jwt: string) => JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;

/** Whether `jwt`'s signature verifies with the key of its kid in `keys` (RS256 or ES256). */
function verifiesWith(jwt: string, keys: Jwk[]): boolean {
  const [header, payload, signature] = jwt.split('.') as [string, string, string];
  const { kid, alg } = jwtHeader(jwt);
  const jwk = keys.find((key) => key.kid === kid);
  if (!jwk) return false;
  const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
  const data = Buffer.from(`${header}.${payload}`);
  const sig = Buffer.from(signature, 'base64url');
  return alg === 'ES256' ? verifySignature('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, sig) : verifySignature('sha256', data, key, sig);
}

interface TokenAnswer {
  status: number;
  body: Record<string, string>;
}

/** POST /oidc/token straight to `instance` (client_secret_basic), as an app server pinned to it would. */
async function tokenRequest(instance: SesameInstance, app: App, params: Record<string, string>, headers: Record<string, string> = {}): Promise<TokenAnswer> {
  const response = await fetch(`${instance.url}/oidc/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(app.id)}:${encodeURIComponent(app.secret)}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
      ...headers,
    },
    body: new URLSearchParams(params),
  });
  const text = await response.text();
  let body: Record<string, string>;
  try {
    body = JSON.parse(text) as Record<string, string>;
  } catch {
    body = { raw: text };
  }
  return { status: response.status, body };
}

const refresh = (instance: SesameInstance, app: App, refreshToken: string) => tokenRequest(instance, app, { grant_type: 'refresh_token', refresh_token: refreshToken });

/** The interaction's uid from a sign-in page's URL (/interaction/<uid>...). */
const interactionUid = (page: PageResponse) => /\/interaction\/([^/?#]+)/.exec(page.url)?.[1] ?? '';

/** Submits `page`'s form ending in `actionSuffix` with one request only (no redirects followed). */
function post(browser: HttpBrowser, page: PageResponse, actionSuffix: string, fields: Record<string, string>): Promise<PageResponse> {
  const form = findForm(page.body, actionSuffix);
  return browser.request(new URL(form.action, page.url).toString(), { form: { ...form.fields, ...fields } });
}

/** How many of each status, e.g. { 200: 5, 429: 5 }. */
const tally = (statuses: number[]) => statuses.reduce<Record<number, number>>((all, status) => ({ ...all, [status]: (all[status] ?? 0) + 1 }), {});

const textOf = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

/**
 * The suite's cluster: started in beforeAll and handed to `started` (which keeps it and prepares what
 * the tests share), stopped in afterAll; every instance's log is printed when a test fails.
 */
function useCluster(options: ClusterOptions, started: (cluster: SesameCluster) => Promise<void> | void): void {
  let cluster: SesameCluster | undefined;
  beforeAll(async () => {
    cluster = await startSesameCluster(options);
    await started(cluster);
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      if (cluster) console.error(`Sesame instances' logs:\n${cluster.logs()}`);
    });
  });
}

describePostgres('four Sesame processes on one PostgreSQL database', () => {
  let cluster: SesameCluster;
  let app: App;
  let config: client.Configuration;

  // Started together on an empty database: scenario 1 checks what they made of it.
  useCluster({ count: 4, env: { SIGNING_KEY_GRACE_SECONDS: String(GRACE_SECONDS) } }, async (started) => {
    cluster = started;
    app = await createApp(cluster, 'Four');
    config = await discover(cluster.issuer, app);
  });

  /** A complete email-code sign-in through the proxy; returns the token response. */
  async function signInThroughProxy(email = uniqueEmail('four')) {
    const { browser } = routedBrowser(cluster);
    const start = await startAuthorization(config, REDIRECT);
    const { callback } = await signInWithEmail(browser, cluster.smtp, start, email, REDIRECT);
    return exchange(config, callback, start);
  }

  it('1. all four start on an empty database together, make one set of keys, and publish the same JWKS', async () => {
    const pool = cluster.database.pool();
    const migrations = readdirSync(MIGRATIONS.postgres).filter((file) => /^\d{4}_.*\.sql$/.test(file));
    const { rows: applied } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM schema_migrations');
    expect(Number(applied[0]!.n)).toBe(migrations.length);

    const { rows } = await pool.query<{ purpose: string; material: string; retired_at: string | null }>('SELECT purpose, material, retired_at FROM server_keys ORDER BY purpose');
    const byPurpose = (purpose: string) => rows.filter((row) => row.purpose === purpose);
    expect(rows.map((row) => row.purpose).sort(), 'server_keys rows by purpose').toEqual(['code-hmac', 'cookie', 'signing', 'signing']);
    expect(byPurpose('signing').map((row) => (JSON.parse(row.material) as Jwk).alg).sort()).toEqual(['ES256', 'RS256']);
    expect(rows.every((row) => row.retired_at === null)).toBe(true);

    const jwks = await Promise.all(cluster.instances.map(jwksOf));
    for (const [index, answer] of jwks.entries()) expect(answer.text, `instance ${index}'s /oidc/jwks`).toBe(jwks[0]!.text);
    expect(jwks[0]!.keys.map((key) => key.kid).sort()).toEqual(byPurpose('signing').map((row) => (JSON.parse(row.material) as Jwk).kid).sort());

    for (const instance of cluster.instances) {
      const discovery = (await (await fetch(`${instance.url}/oidc/.well-known/openid-configuration`)).json()) as { issuer: string };
      expect(discovery.issuer).toBe(cluster.issuer);
    }
  });

  it('3. publishes a signing key rotated by `sesame keys rotate` on every instance within 3 s, and every instance signs with it once the grace has passed', async () => {
    const before = await signInThroughProxy();
    const oldIdToken = before.id_token!;
    const oldKid = jwtHeader(oldIdToken).kid;
    let refreshToken = before.refresh_token!;

    await cli(cluster, ['keys', 'rotate', '--purpose', 'signing']);
    const rotatedAt = Date.now();
    const { rows } = await cluster.database
      .pool()
      .query<{ material: string; created_at: string }>("SELECT material, created_at FROM server_keys WHERE purpose = 'signing' AND retired_at IS NULL");
    expect(rows).toHaveLength(2);
    const newKids = rows.map((row) => (JSON.parse(row.material) as Jwk).kid!);
    const newRsKid = rows.map((row) => JSON.parse(row.material) as Jwk).find((jwk) => jwk.alg === 'RS256')!.kid!;
    const storedAt = Number(rows[0]!.created_at);
    expect(newKids).not.toContain(oldKid);

    // Right after the rotation, inside the grace: tokens are still signed with the old key, on every
    // instance (a relying party's cached JWKS may not have the new one yet).
    const early: { instance: number; sentAt: number; kid: string }[] = [];
    for (const instance of cluster.instances) {
      const sentAt = Date.now();
      const answer = await refresh(instance, app, refreshToken);
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      refreshToken = answer.body.refresh_token!;
      early.push({ instance: instance.index, sentAt, kid: jwtHeader(answer.body.id_token!).kid });
    }
    const insideGrace = early.filter((entry) => entry.sentAt < storedAt + GRACE_SECONDS * 1000 - 500);
    expect(insideGrace.length, 'refreshes sent well inside the grace (the `sesame` command took too long to exit?)').toBeGreaterThan(0);
    for (const token of insideGrace) {
      expect(newKids, `instance ${token.instance} signed with a new key (${token.kid}) ${token.sentAt - storedAt} ms after the rotation, inside the ${GRACE_SECONDS} s grace`).not.toContain(token.kid);
    }

    // Published by every instance within 3 s.
    const seenAt = new Map<number, number>();
    const lastSeen = new Map<number, string[]>();
    while (seenAt.size < cluster.instances.length && Date.now() < rotatedAt + 3_000) {
      for (const instance of cluster.instances) {
        if (seenAt.has(instance.index)) continue;
        const kids = (await jwksOf(instance)).keys.map((key) => key.kid!);
        lastSeen.set(instance.index, kids);
        if (newKids.every((kid) => kids.includes(kid))) seenAt.set(instance.index, Date.now() - rotatedAt);
      }
      await sleep(100);
    }
    expect(
      cluster.instances.filter((instance) => !seenAt.has(instance.index)).map((instance) => `instance ${instance.index} lists ${lastSeen.get(instance.index)?.join(',')}`),
      `instances not listing the new kids ${newKids.join(',')} 3 s after the rotation`,
    ).toEqual([]);

    // Tokens signed before the rotation still verify with every instance's JWKS; the JWKS may not be
    // cached longer than the grace.
    for (const instance of cluster.instances) {
      const jwks = await jwksOf(instance);
      expect(verifiesWith(oldIdToken, jwks.keys), `the old ID token verifies with instance ${instance.index}'s JWKS`).toBe(true);
      const maxAge = Number(/max-age=(\d+)/.exec(jwks.cacheControl ?? '')?.[1] ?? NaN);
      expect(maxAge, `instance ${instance.index}'s JWKS Cache-Control (${jwks.cacheControl}) is at most the grace`).toBeLessThanOrEqual(GRACE_SECONDS);
    }

    // Once the grace has passed, every instance signs new ID tokens with the new key.
    await sleep(Math.max(0, storedAt + GRACE_SECONDS * 1000 - Date.now()));
    const deadline = storedAt + GRACE_SECONDS * 1000 + 4_000;
    const signer = new Map<number, string>();
    const switched = new Set<number>();
    while (switched.size < cluster.instances.length && Date.now() < deadline) {
      for (const instance of cluster.instances) {
        if (switched.has(instance.index)) continue;
        const answer = await refresh(instance, app, refreshToken);
        expect(answer.status, JSON.stringify(answer.body)).toBe(200);
        refreshToken = answer.body.refresh_token!;
        const kid = jwtHeader(answer.body.id_token!).kid;
        signer.set(instance.index, kid);
        if (kid === newRsKid) {
          switched.add(instance.index);
          expect(verifiesWith(answer.body.id_token!, (await jwksOf(instance)).keys)).toBe(true);
        }
      }
      if (switched.size < cluster.instances.length) await sleep(250);
    }
    expect(
      Object.fromEntries(cluster.instances.map((instance) => [`instance ${instance.index}`, signer.get(instance.index)])),
      `ID tokens ${Math.round((Date.now() - storedAt) / 1000)} s after the rotation (grace ${GRACE_SECONDS} s); new RS256 kid ${newRsKid}, old ${oldKid}`,
    ).toEqual(Object.fromEntries(cluster.instances.map((instance) => [`instance ${instance.index}`, newRsKid])));

    // And a whole new sign-in through the proxy gets an ID token from the new key.
    const after = await signInThroughProxy();
    expect(jwtHeader(after.id_token!).kid).toBe(newRsKid);
    for (const instance of cluster.instances) expect(verifiesWith(after.id_token!, (await jwksOf(instance)).keys)).toBe(true);
  });

  let cookieRotatedAt = 0;

  it('3. finishes, across instances, a sign-in started before `sesame keys rotate` of the cookie and code keys; a sign-in after it works too', async () => {
    const [a, b] = cluster.instances as [SesameInstance, SesameInstance];
    const { browser, route } = routedBrowser(cluster);
    const start = await startAuthorization(config, REDIRECT);
    const email = uniqueEmail('midrotation');
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    route.via = a;
    const before = cluster.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.status, textOf(codePage.body).slice(0, 300)).toBe(200);
    const code = codeFrom(await cluster.smtp.waitForMail(email, { after: before }));

    await cli(cluster, ['keys', 'rotate', '--purpose', 'cookie']);
    await cli(cluster, ['keys', 'rotate', '--purpose', 'code-hmac']);
    cookieRotatedAt = Date.now();
    // Every instance has looked at the keys again by now (they re-check every second).
    await sleep(3_000);

    // The code (HMAC'd with the old code key) typed on another instance; the interaction's cookies
    // were signed with the old cookie key; the rest of the way through the proxy.
    route.via = b;
    const posted = await post(browser, codePage, '/code', { code });
    expect(posted.status, textOf(posted.body).slice(0, 300)).toBe(303);
    route.via = undefined;
    const done = await browser.follow(posted.location!, {}, REDIRECT);
    expect(done.location, `${done.status} ${textOf(done.body).slice(0, 300)}`).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?/);
    const tokens = await exchange(config, done.location!, start);
    expect(jwtClaims(tokens.id_token!).email).toBe(email);

    // A new sign-in some 6 s after the rotation, its steps on different instances.
    await sleep(Math.max(0, cookieRotatedAt + 6_000 - Date.now()));
    const fresh = routedBrowser(cluster);
    const freshStart = await startAuthorization(config, REDIRECT);
    const freshEmail = uniqueEmail('afterrotation');
    const freshPage = await fresh.browser.follow(freshStart.url);
    fresh.route.via = b;
    const freshBefore = cluster.smtp.countFor(freshEmail);
    const freshCodePage = await fresh.browser.submit(freshPage, '/email', { email: freshEmail });
    expect(freshCodePage.status).toBe(200);
    const freshCode = codeFrom(await cluster.smtp.waitForMail(freshEmail, { after: freshBefore }));
    fresh.route.via = a;
    const freshPosted = await post(fresh.browser, freshCodePage, '/code', { code: freshCode });
    expect(freshPosted.status, textOf(freshPosted.body).slice(0, 300)).toBe(303);
    fresh.route.via = undefined;
    const freshDone = await fresh.browser.follow(freshPosted.location!, {}, REDIRECT);
    expect(freshDone.location, `${freshDone.status} ${textOf(freshDone.body).slice(0, 300)}`).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?/);
    expect(jwtClaims((await exchange(config, freshDone.location!, freshStart)).id_token!).email).toBe(freshEmail);
  });

  it('3. signs new cookies and HMACs new codes with the rotated keys on every instance', async () => {
    expect(cookieRotatedAt, 'runs after the cookie and code-hmac rotation above').toBeGreaterThan(0);
    const pool = cluster.database.pool();
    const current = async (purpose: string) =>
      (await pool.query<{ material: string }>('SELECT material FROM server_keys WHERE purpose = $1 AND retired_at IS NULL', [purpose])).rows.map((row) => row.material);
    const [cookieKey] = await current('cookie');
    const [codeKey] = await current('code-hmac');
    expect(cookieKey).toBeDefined();
    expect(codeKey).toBeDefined();

    for (const instance of cluster.instances) {
      const { browser, route, setCookies } = routedBrowser(cluster, { 'x-forwarded-for': `192.0.2.${30 + instance.index}` });
      route.via = instance;
      const start = await startAuthorization(config, REDIRECT);
      const emailPage = await browser.follow(start.url);
      expect(emailPage.status).toBe(200);
      const cookies = new Map(setCookies.map((line) => {
        const [pair] = line.split(';', 1) as [string];
        const at = pair.indexOf('=');
        return [pair.slice(0, at), decodeURIComponent(pair.slice(at + 1))] as const;
      }));
      // oidc-provider's interaction cookie: keygrip's HMAC-SHA1 of "name=value" under the first cookie key.
      const interaction = cookies.get('_interaction');
      expect(interaction, `instance ${instance.index} set the _interaction cookie`).toBeDefined();
      expect(cookies.get('_interaction.sig'), `instance ${instance.index} signs oidc-provider's cookies with the new cookie key`).toBe(
        createHmac('sha1', cookieKey!).update(`_interaction=${interaction}`).digest('base64url'),
      );
      // The CSRF cookie (@fastify/cookie: value.HMAC-SHA256 in base64 without padding).
      const csrf = cookies.get('_sesame_csrf');
      expect(csrf, `instance ${instance.index} set the CSRF cookie`).toBeDefined();
      const dot = csrf!.lastIndexOf('.');
      expect(csrf!.slice(dot + 1), `instance ${instance.index} signs the CSRF cookie with the new cookie key`).toBe(
        createHmac('sha256', cookieKey!).update(csrf!.slice(0, dot)).digest('base64').replace(/=+$/, ''),
      );

      // The code it sends is stored as an HMAC under the new code key (see src/sign-in/codes.ts codeMac).
      const email = uniqueEmail(`keys${instance.index}`);
      const before = cluster.smtp.countFor(email);
      const codePage = await browser.submit(emailPage, '/email', { email });
      expect(codePage.status).toBe(200);
      const code = codeFrom(await cluster.smtp.waitForMail(email, { after: before }));
      const uid = interactionUid(emailPage);
      const { rows } = await pool.query<{ purpose: string; email: string; code_hmac: string }>(
        'SELECT purpose, email, code_hmac FROM verification_codes WHERE interaction_uid = $1',
        [uid],
      );
      expect(rows).toHaveLength(1);
      const row = rows[0]!;
      expect(row.code_hmac, `instance ${instance.index} HMACs codes with the new code key`).toBe(
        createHmac('sha256', Buffer.from(codeKey!, 'base64url')).update(`${uid}\n${row.purpose}\n${row.email}\n${code}`).digest('base64url'),
      );
    }
  });

  it('5. shows a sign-in experience changed with `sesame experience set` on every instance within a few seconds', async () => {
    const { browser, route } = routedBrowser(cluster);
    const start = await startAuthorization(config, REDIRECT);
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    const uid = interactionUid(emailPage);
    const OFFER = 'Sign in with a password instead';
    // The same interaction's email page, from one instance.
    const pageVia = async (instance: SesameInstance) => {
      route.via = instance;
      const page = await browser.follow(`${cluster.endpoint}/interaction/${uid}`);
      expect(page.status, `instance ${instance.index}: ${textOf(page.body).slice(0, 300)}`).toBe(200);
      return page.body;
    };
    for (const instance of cluster.instances) expect(await pageVia(instance), `instance ${instance.index} before the change`).not.toContain(OFFER);

    const waitForAll = async (want: boolean) => {
      const changedAt = Date.now();
      const seen = new Set<number>();
      while (seen.size < cluster.instances.length && Date.now() < changedAt + 5_000) {
        for (const instance of cluster.instances) {
          if (!seen.has(instance.index) && (await pageVia(instance)).includes(OFFER) === want) seen.add(instance.index);
        }
        if (seen.size < cluster.instances.length) await sleep(100);
      }
      return cluster.instances.filter((instance) => !seen.has(instance.index)).map((instance) => instance.index);
    };

    await cli(cluster, ['experience', 'set', '--sign-in-methods', 'verificationCode,password']);
    try {
      expect(await waitForAll(true), 'instances still without the password option 5 s after `experience set`').toEqual([]);
    } finally {
      await cli(cluster, ['experience', 'set', '--sign-in-methods', 'verificationCode']);
    }
    expect(await waitForAll(false), 'instances still offering passwords 5 s after it was turned off').toEqual([]);
  });

  it('5. refuses a deleted app’s token requests on every instance within a few seconds', async () => {
    const doomed = await createApp(cluster, 'Doomed');
    const doomedConfig = await discover(cluster.issuer, doomed);
    const { browser } = routedBrowser(cluster);
    const start = await startAuthorization(doomedConfig, REDIRECT);
    const { callback } = await signInWithEmail(browser, cluster.smtp, start, uniqueEmail('doomed'), REDIRECT);
    let refreshToken = (await exchange(doomedConfig, callback, start)).refresh_token!;
    // Every instance has used (and so cached) the app.
    for (const instance of cluster.instances) {
      const answer = await refresh(instance, doomed, refreshToken);
      expect(answer.status, `instance ${instance.index}: ${JSON.stringify(answer.body)}`).toBe(200);
      refreshToken = answer.body.refresh_token!;
    }

    await cli(cluster, ['app', 'delete', doomed.id]);
    const deletedAt = Date.now();
    const refused = new Map<number, TokenAnswer>();
    while (refused.size < cluster.instances.length && Date.now() < deletedAt + 5_000) {
      for (const instance of cluster.instances) {
        if (refused.has(instance.index)) continue;
        const answer = await refresh(instance, doomed, refreshToken);
        if (answer.status === 200) refreshToken = answer.body.refresh_token!;
        else refused.set(instance.index, answer);
      }
      if (refused.size < cluster.instances.length) await sleep(200);
    }
    expect(
      cluster.instances.filter((instance) => !refused.has(instance.index)).map((instance) => instance.index),
      'instances still issuing tokens to the deleted app 5 s after `sesame app delete`',
    ).toEqual([]);
    // Refused for good, everywhere, as an unknown client (or its grant gone with it).
    for (const instance of cluster.instances) {
      const answer = await refresh(instance, doomed, refreshToken);
      expect([400, 401], `instance ${instance.index}: ${JSON.stringify(answer.body)}`).toContain(answer.status);
      expect(['invalid_client', 'invalid_grant']).toContain(answer.body.error);
    }
  });

});

describePostgres('four Sesame processes purging one PostgreSQL database (PURGE_INTERVAL_SECONDS=1)', () => {
  let cluster: SesameCluster;
  useCluster({ count: 4, env: { PURGE_INTERVAL_SECONDS: '1' }, logLevel: 'debug' }, (started) => {
    cluster = started;
  });

  /** Every purge round the instances logged (debug), as [start, end] in ms, by instance. */
  const rounds = () =>
    cluster.instances.flatMap((instance) =>
      instance
        .output()
        .split('\n')
        .filter((line) => line.includes('"purged expired rows"'))
        .map((line) => JSON.parse(line) as { startedAt: number; endedAt: number })
        .map(({ startedAt, endedAt }) => ({ instance: instance.index, startedAt, endedAt })),
    );

  it('6. purges expired rows on one instance at a time', async () => {
    const pool = cluster.database.pool();
    // Enough rows that a round takes a while: rounds that did not take turns would overlap.
    await pool.query(
      "INSERT INTO oidc_model_instances (model, id, payload, expires_at) SELECT 'AccessToken', 'expired-' || g, '{}', 1 FROM generate_series(1, 20000) g",
    );
    await pool.query("INSERT INTO verification_sends (id, email, ip, sent_at) SELECT 'old-' || g, 'old@example.com', '192.0.2.1', 1 FROM generate_series(1, 20000) g");
    const left = async () =>
      Number(
        (
          await pool.query<{ n: string }>(
            "SELECT (SELECT COUNT(*) FROM oidc_model_instances WHERE id LIKE 'expired-%') + (SELECT COUNT(*) FROM verification_sends WHERE id LIKE 'old-%') AS n",
          )
        ).rows[0]!.n,
      );
    const deadline = Date.now() + 20_000;
    while ((await left()) > 0 && Date.now() < deadline) await sleep(200);
    expect(await left(), 'expired rows still there 20 s later').toBe(0);
    // A few more rounds on every instance (one a second each), then no two may have overlapped.
    await sleep(3_000);
    const spans = rounds().sort((a, b) => a.startedAt - b.startedAt);
    expect(new Set(spans.map((span) => span.instance)).size, 'instances that ran a purge round').toBeGreaterThan(1);
    for (let i = 1; i < spans.length; i += 1) {
      expect(spans[i]!.startedAt, `round ${JSON.stringify(spans[i])} began before ${JSON.stringify(spans[i - 1])} ended`).toBeGreaterThanOrEqual(spans[i - 1]!.endedAt);
    }
  });
});

describePostgres('two Sesame processes on one PostgreSQL database', () => {
  const CODE_SENDS_PER_IP = 6;
  let cluster: SesameCluster;
  let app: App;
  let config: client.Configuration;

  useCluster({ count: 2, env: { CODE_SENDS_PER_IP: String(CODE_SENDS_PER_IP) } }, async (started) => {
    cluster = started;
    app = await createApp(cluster, 'Two');
    config = await discover(cluster.issuer, app);
  });

  it('2. signs in with requests alternating between instances, refreshes on B, signs out on A, and the refresh token is refused everywhere after', async () => {
    const [a, b] = cluster.instances as [SesameInstance, SesameInstance];
    const clientRoute = routeClient(cluster, config);
    const { browser, route } = routedBrowser(cluster);
    const email = uniqueEmail('alternate');
    const start = await startAuthorization(config, REDIRECT);

    // /oidc/auth and the email page through the proxy (one instance each), the code sent by A...
    const emailPage = await browser.follow(start.url);
    expect(emailPage.status).toBe(200);
    route.via = a;
    const before = cluster.smtp.countFor(email);
    const codePage = await browser.submit(emailPage, '/email', { email });
    expect(codePage.status, textOf(codePage.body).slice(0, 300)).toBe(200);
    const code = codeFrom(await cluster.smtp.waitForMail(email, { after: before }));
    // ...typed on B, and the rest (resume, automatic consent, back to the app) alternating again.
    route.via = b;
    const posted = await post(browser, codePage, '/code', { code });
    expect(posted.status, textOf(posted.body).slice(0, 300)).toBe(303);
    route.via = undefined;
    const done = await browser.follow(posted.location!, {}, REDIRECT);
    expect(done.location, `${done.status} ${textOf(done.body).slice(0, 300)}`).toMatch(/^http:\/\/127\.0\.0\.1:9\/callback\?/);

    expect(cluster.proxy.served.every((count) => count > 0), `requests per instance through the proxy: ${cluster.proxy.served.join(', ')}`).toBe(true);

    clientRoute.via = a;
    const tokens = await exchange(config, done.location!, start);
    const claims = tokens.claims()!;
    expect(claims.email).toBe(email);
    expect(claims.iss).toBe(cluster.issuer);
    expect(tokens.refresh_token).toBeTruthy();

    clientRoute.via = b;
    const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
    expect(refreshed.refresh_token).toBeTruthy();
    expect(refreshed.refresh_token).not.toBe(tokens.refresh_token);
    expect(refreshed.claims()!.sub).toBe(claims.sub);

    for (const instance of [a, b]) {
      clientRoute.via = instance;
      const info = await client.fetchUserInfo(config, refreshed.access_token, claims.sub);
      expect(info.email).toBe(email);
    }

    // RP sign-out on A, as @logto/node does it: revoke the refresh token, then end the session
    // (client_id + post_logout_redirect_uri, no id_token_hint; the confirmation form auto-submits).
    clientRoute.via = a;
    await client.tokenRevocation(config, refreshed.refresh_token!);
    route.via = a;
    const endSession = new URL(config.serverMetadata().end_session_endpoint!);
    endSession.searchParams.set('client_id', app.id);
    endSession.searchParams.set('post_logout_redirect_uri', POST_LOGOUT);
    const logoutPage = await browser.follow(endSession.toString());
    expect(logoutPage.status).toBe(200);
    const back = await browser.submit(logoutPage, '/session/end/confirm', { logout: 'yes' }, POST_LOGOUT);
    expect(back.location).toBe(POST_LOGOUT);

    // The refresh token is refused by every instance, and the session is gone on every instance.
    for (const instance of [a, b]) {
      const answer = await refresh(instance, app, refreshed.refresh_token!);
      expect(answer.status, `instance ${instance.index}: ${JSON.stringify(answer.body)}`).toBe(400);
      expect(answer.body.error).toBe('invalid_grant');
      route.via = instance;
      const silent = await startAuthorization(config, REDIRECT, { prompt: 'none' });
      const denied = await browser.follow(silent.url, {}, REDIRECT);
      expect(new URL(denied.location!).searchParams.get('error'), `instance ${instance.index} after sign-out`).toBe('login_required');
    }
  });

  /** `count` email pages, each its own interaction in a browser of its own, alternating instances. */
  async function emailPages(count: number, ipFor: (i: number) => string) {
    return Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const { browser, route } = routedBrowser(cluster, { 'x-forwarded-for': ipFor(i) });
        route.via = cluster.instances[i % cluster.instances.length];
        const page = await browser.follow((await startAuthorization(config, REDIRECT)).url);
        expect(page.status, textOf(page.body).slice(0, 300)).toBe(200);
        return { browser, route, page };
      }),
    );
  }

  /** Sends every page's email form at once; returns the statuses, and checks each refusal's page. */
  async function sendAtOnce(pages: Awaited<ReturnType<typeof emailPages>>, emailFor: (i: number) => string): Promise<number[]> {
    const answers = await Promise.all(pages.map(({ browser, page }, i) => browser.submit(page, '/email', { email: emailFor(i) })));
    for (const answer of answers.filter((page) => page.status === 429)) expect(textOf(answer.body)).toContain('Too many codes were requested');
    // Every send answered after its mail was handed over; give the sink a moment to parse the last.
    await sleep(500);
    return answers.map((answer) => answer.status);
  }

  it('4a. mails exactly the per-address cap (5 per 15 min) when more sends for one address hit both instances at once', async () => {
    const CAP = 5; // defaultCodePolicy().perAddress
    const email = uniqueEmail('capped');
    // Each from an IP of its own: only the address's cap applies.
    const pages = await emailPages(CAP + 5, (i) => `203.0.113.${i + 1}`);
    const statuses = await sendAtOnce(pages, () => email);
    expect(tally(statuses)).toEqual({ 200: CAP, 429: 5 });
    expect(cluster.smtp.countFor(email)).toBe(CAP);
  });

  it('4a. mails exactly the per-IP cap (CODE_SENDS_PER_IP) and the address+IP pair cap (3) across instances at once', async () => {
    const ipEmails = Array.from({ length: CODE_SENDS_PER_IP + 4 }, () => uniqueEmail('perip'));
    const ipStatuses = await sendAtOnce(await emailPages(ipEmails.length, () => '198.51.100.77'), (i) => ipEmails[i]!);
    expect(tally(ipStatuses)).toEqual({ 200: CODE_SENDS_PER_IP, 429: 4 });
    expect(ipEmails.reduce((sum, email) => sum + cluster.smtp.countFor(email), 0)).toBe(CODE_SENDS_PER_IP);

    const PAIR = 3; // defaultCodePolicy().perPair
    const email = uniqueEmail('pair');
    const pairStatuses = await sendAtOnce(await emailPages(PAIR + 3, () => '198.51.100.78'), () => email);
    expect(tally(pairStatuses)).toEqual({ 200: PAIR, 429: 3 });
    expect(cluster.smtp.countFor(email)).toBe(PAIR);
  });

  it('4b. pauses an address for an IP at the 10th wrong code however the guesses spread over the instances, and every instance sees the pause', async () => {
    const THRESHOLD = 10; // DEFAULT_LOCKOUT_RULES.pair.threshold
    const IP = '198.51.100.50';
    const email = uniqueEmail('guessed');
    // Three codes (the pair's send cap), one per interaction, asked for on alternating instances.
    const flows: { browser: HttpBrowser; route: { via: SesameInstance | undefined }; codePage: PageResponse; code: string }[] = [];
    for (const { browser, route, page } of await emailPages(3, () => IP)) {
      const before = cluster.smtp.countFor(email);
      const codePage = await browser.submit(page, '/email', { email });
      expect(codePage.status, textOf(codePage.body).slice(0, 300)).toBe(200);
      flows.push({ browser, route, codePage, code: codeFrom(await cluster.smtp.waitForMail(email, { after: before })) });
    }
    const wrong = (code: string) => (code === '000000' ? '111111' : '000000');

    // 14 wrong guesses at once (5 + 5 + 4: no code is used up before its last), alternating instances.
    const guesses = [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2].map((flow, i) => ({ flow: flows[flow]!, instance: cluster.instances[i % 2]! }));
    const statuses = await Promise.all(
      guesses.map(async ({ flow, instance }) => {
        const form = findForm(flow.codePage.body, '/code');
        const url = cluster.pin(new URL(form.action, flow.codePage.url), instance);
        return (await flow.browser.request(url, { form: { ...form.fields, code: wrong(flow.code) } })).status;
      }),
    );
    // As if one after the other: 9 refused as wrong, the 10th pauses, the rest meet the pause.
    expect(tally(statuses)).toEqual({ 400: THRESHOLD - 1, 429: guesses.length - (THRESHOLD - 1) });

    // Every instance keeps this IP paused for this address, even with the right code (the third
    // code has a try left).
    const last = flows[2]!;
    for (const instance of cluster.instances) {
      const form = findForm(last.codePage.body, '/code');
      const answer = await last.browser.request(cluster.pin(new URL(form.action, last.codePage.url), instance), { form: { ...form.fields, code: last.code } });
      expect(answer.status, `instance ${instance.index}: ${textOf(answer.body).slice(0, 300)}`).toBe(429);
      expect(textOf(answer.body)).toContain('paused');
    }
  });
});

describePostgres('two Sesame processes sharing the HTTP rate limits (RATE_LIMIT_PER_MINUTE=30)', () => {
  const PER_MINUTE = 30;
  let cluster: SesameCluster;

  useCluster({ count: 2, env: { RATE_LIMIT_PER_MINUTE: String(PER_MINUTE) } }, (started) => {
    cluster = started;
  });

  /** Sends `send` to the instances in turn, one after the other; returns the statuses. */
  async function alternate(count: number, send: (instance: SesameInstance) => Promise<number>): Promise<number[]> {
    const statuses: number[] = [];
    for (let i = 0; i < count; i += 1) statuses.push(await send(cluster.instances[i % cluster.instances.length]!));
    return statuses;
  }

  it('4c. answers 429 to one client after RATE_LIMIT_PER_MINUTE page requests in total across both instances, not twice that', async () => {
    const client = { 'x-forwarded-for': '192.0.2.10' };
    const page = async (instance: SesameInstance) => {
      const response = await fetch(`${instance.url}/`, { headers: client });
      await response.arrayBuffer();
      return response.status;
    };
    const allowed = await alternate(PER_MINUTE, page);
    expect(tally(allowed)).toEqual({ 200: PER_MINUTE });
    const after = await alternate(4, page);
    expect(after, `requests ${PER_MINUTE + 1}-${PER_MINUTE + 4}, alternating instances`).toEqual([429, 429, 429, 429]);

    // Another client is not affected.
    expect((await fetch(`${cluster.instances[1]!.url}/`, { headers: { 'x-forwarded-for': '192.0.2.11' } })).status).toBe(200);
  });

  it('4c. gives one client half the budget at /oidc/token in total across both instances', async () => {
    const BUDGET = PER_MINUTE / 2;
    const nobody = { id: 'nobody', secret: 'nothing' };
    const token = async (instance: SesameInstance) =>
      (await tokenRequest(instance, nobody, { grant_type: 'refresh_token', refresh_token: 'whatever' }, { 'x-forwarded-for': '192.0.2.20' })).status;
    const allowed = await alternate(BUDGET, token);
    expect(tally(allowed)).toEqual({ 401: BUDGET });
    const after = await alternate(4, token);
    expect(after, `requests ${BUDGET + 1}-${BUDGET + 4}, alternating instances`).toEqual([429, 429, 429, 429]);
  });
});
