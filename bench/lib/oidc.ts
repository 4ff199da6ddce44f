import { createHash, createPublicKey, randomBytes, verify, type KeyObject } from 'node:crypto';
import { basicAuth, newBrowser, postForm, send } from './http.ts';
import type { MailSink } from './mail-sink.ts';

export interface Endpoints {
  issuer: string;
  authorization: string;
  token: string;
  userinfo: string;
  introspection: string;
  jwks: string;
  discovery: string;
}

export interface ClientCredentials {
  id: string;
  secret: string;
  redirectUri: string;
}

export interface Tokens {
  access_token: string;
  refresh_token?: string;
  id_token?: string;
}

export interface Server {
  endpoints: Endpoints;
  client: ClientCredentials;
  keys: Map<string, KeyObject>;
}

export async function discoverServer(issuer: string, client: ClientCredentials): Promise<Server> {
  const discovery = `${issuer}/.well-known/openid-configuration`;
  const meta = JSON.parse((await send(discovery)).body) as Record<string, string>;
  const endpoints: Endpoints = {
    issuer: meta.issuer!,
    authorization: meta.authorization_endpoint!,
    token: meta.token_endpoint!,
    userinfo: meta.userinfo_endpoint!,
    introspection: meta.introspection_endpoint!,
    jwks: meta.jwks_uri!,
    discovery,
  };
  const jwks = JSON.parse((await send(endpoints.jwks)).body) as { keys: Array<{ kid: string } & Record<string, string>> };
  const keys = new Map(jwks.keys.map((jwk) => [jwk.kid, createPublicKey({ key: jwk, format: 'jwk' })]));
  return { endpoints, client, keys };
}

const b64url = (buffer: Buffer) => buffer.toString('base64url');

interface Authorization {
  url: string;
  verifier: string;
  state: string;
  nonce: string;
}

export function authorizationRequest(server: Server): Authorization {
  const verifier = b64url(randomBytes(32));
  const state = b64url(randomBytes(16));
  const nonce = b64url(randomBytes(16));
  const url = new URL(server.endpoints.authorization);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: server.client.id,
    redirect_uri: server.client.redirectUri,
    scope: 'openid profile email offline_access',
    state,
    nonce,
    code_challenge: b64url(createHash('sha256').update(verifier).digest()),
    code_challenge_method: 'S256',
    // offline_access is only honoured with prompt=consent, which Logto SDKs always send.
    prompt: 'consent',
  }).toString();
  return { url: url.toString(), verifier, state, nonce };
}

/** authorization_code grant with client_secret_basic + PKCE; the ID token's signature and claims are checked. */
export async function exchangeCode(server: Server, callback: string, auth: Authorization): Promise<Tokens & { claims: Record<string, unknown> }> {
  const params = new URL(callback).searchParams;
  if (params.get('state') !== auth.state) throw new Error(`state mismatch in ${callback}`);
  const code = params.get('code');
  if (!code) throw new Error(`no code in ${callback}`);
  const reply = await postForm(
    server.endpoints.token,
    { grant_type: 'authorization_code', code, redirect_uri: server.client.redirectUri, code_verifier: auth.verifier },
    { authorization: basicAuth(server.client.id, server.client.secret) },
  );
  if (reply.status !== 200) throw new Error(`token endpoint answered ${reply.status}: ${reply.body.slice(0, 300)}`);
  const tokens = JSON.parse(reply.body) as Tokens;
  if (!tokens.id_token) throw new Error('no id_token');
  const claims = verifyIdToken(server, tokens.id_token, auth.nonce);
  return { ...tokens, claims };
}

export function verifyIdToken(server: Server, jwt: string, nonce?: string): Record<string, unknown> {
  const [head = '', body = '', signature = ''] = jwt.split('.');
  const header = JSON.parse(Buffer.from(head, 'base64url').toString()) as { alg: string; kid: string };
  const key = server.keys.get(header.kid);
  if (!key || header.alg !== 'RS256') throw new Error(`unexpected ID token header ${JSON.stringify(header)}`);
  if (!verify('sha256', Buffer.from(`${head}.${body}`), key, Buffer.from(signature, 'base64url'))) throw new Error('bad ID token signature');
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as Record<string, unknown>;
  const now = Date.now() / 1000;
  if (claims.iss !== server.endpoints.issuer) throw new Error(`bad iss ${String(claims.iss)}`);
  if (claims.aud !== server.client.id) throw new Error(`bad aud ${String(claims.aud)}`);
  if (typeof claims.exp !== 'number' || claims.exp < now) throw new Error('expired ID token');
  if (nonce !== undefined && claims.nonce !== nonce) throw new Error('bad nonce');
  return claims;
}

export const SIGN_IN_STEPS = ['authorize', 'emailPage', 'sendCode', 'mailArrives', 'submitCode', 'tokenExchange'] as const;
export type SignInStep = (typeof SIGN_IN_STEPS)[number];

/**
 * One complete email-code sign-in against Sesame, timed step by step:
 * authorize (GET /oidc/auth -> interaction redirect), emailPage (the form), sendCode (POST the
 * address; Sesame mails the code before it answers, then the code page), mailArrives (until the
 * sink has parsed the mail), submitCode (POST the code and follow redirects back to the app),
 * tokenExchange (code -> tokens, ID token verified).
 */
export async function emailSignIn(
  server: Server,
  sink: MailSink,
  email: string,
  steps: Record<SignInStep, number[]>,
): Promise<Tokens & { claims: Record<string, unknown> }> {
  const browser = newBrowser();
  const auth = authorizationRequest(server);
  let mark = performance.now();
  const lap = (step: SignInStep) => {
    const now = performance.now();
    steps[step].push(now - mark);
    mark = now;
  };

  const toInteraction = await browser.request(auth.url);
  if (!toInteraction.location) throw new Error(`authorize answered ${toInteraction.status}: ${toInteraction.body.slice(0, 300)}`);
  lap('authorize');
  const emailPage = await browser.follow(toInteraction.location);
  if (emailPage.status !== 200) throw new Error(`email page answered ${emailPage.status}: ${emailPage.body.slice(0, 300)}`);
  lap('emailPage');
  const mail = sink.expect(email);
  const codePage = await browser.submit(emailPage, '/email', { email });
  if (codePage.status !== 200) throw new Error(`code page answered ${codePage.status}: ${codePage.body.slice(0, 300)}`);
  lap('sendCode');
  const code = await mail;
  lap('mailArrives');
  const done = await browser.submit(codePage, '/code', { code }, server.client.redirectUri);
  if (!done.location?.startsWith(server.client.redirectUri)) throw new Error(`sign-in did not return to the app: ${done.status} ${done.body.slice(0, 300)}`);
  lap('submitCode');
  const tokens = await exchangeCode(server, done.location, auth);
  if (tokens.claims.email !== email) throw new Error(`ID token email ${String(tokens.claims.email)} is not ${email}`);
  lap('tokenExchange');
  return tokens;
}

/**
 * The bare provider's sign-in (bare-provider.ts): authorize -> its interaction page -> ONE form post
 * (login and consent at once) -> back through /oidc/auth/:uid to the app -> token exchange, ID token checked.
 * The same code flow as `emailSignIn` without the address, the mail and the code.
 */
export async function formSignIn(server: Server): Promise<Tokens> {
  const browser = newBrowser();
  const auth = authorizationRequest(server);
  const form = await browser.follow(auth.url);
  if (form.status !== 200) throw new Error(`interaction page answered ${form.status}: ${form.body.slice(0, 300)}`);
  const done = await browser.submit(form, '/login', {}, server.client.redirectUri);
  if (!done.location?.startsWith(server.client.redirectUri)) throw new Error(`code flow did not return to the app: ${done.status} ${done.body.slice(0, 300)}`);
  return exchangeCode(server, done.location, auth);
}
