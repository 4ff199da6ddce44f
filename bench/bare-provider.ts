/**
 * The ceiling: bare oidc-provider 9 with its in-memory adapter (or, with BARE_DATABASE, a plain SQLite one), configured like Sesame's provider
 * (same keys and alg, same scopes, claims, PKCE, refresh rotation, opaque access tokens) but with
 * nothing of ours around it. Its interaction is the least a sign-in can be: GET /interaction/:uid
 * answers a tiny form, and ONE post of it signs a fixed account in and grants the requested scopes
 * (no email, no code), so the same code flow as Sesame's is measured without Sesame's work.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFileSync } from 'node:fs';
import Provider, { errors, type Configuration } from 'oidc-provider';
import { sqliteAdapter } from './lib/bare-sqlite-adapter.ts';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}/oidc`;
const jwks = JSON.parse(readFileSync(process.env.JWKS_FILE!, 'utf8')) as Configuration['jwks'];

const ACCOUNT = { sub: 'benchuser0001', email: 'bare@example.com', email_verified: true, name: null, username: null, updated_at: 0 };

const configuration: Configuration = {
  // BARE_DATABASE=<file>: the models in SQLite (lib/bare-sqlite-adapter.ts) instead of memory.
  ...(process.env.BARE_DATABASE && { adapter: sqliteAdapter(process.env.BARE_DATABASE) }),
  clients: [
    {
      client_id: process.env.CLIENT_ID!,
      client_secret: process.env.CLIENT_SECRET!,
      redirect_uris: [process.env.REDIRECT_URI!],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
    },
  ],
  findAccount: async (_ctx, sub) => ({ accountId: sub, claims: () => ({ ...ACCOUNT, sub }) }),
  jwks,
  responseTypes: ['code'],
  scopes: ['openid', 'profile', 'email', 'offline_access'],
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'username', 'updated_at'] },
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  features: {
    devInteractions: { enabled: false },
    userinfo: { enabled: true },
    revocation: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: () => {
        throw new errors.InvalidTarget();
      },
    },
  },
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
  rotateRefreshToken: () => true,
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, Interaction: 3600, Grant: 14 * 86400, Session: 14 * 86400, RefreshToken: 14 * 86400 },
};

const provider = new Provider(issuer, configuration);
const callback = provider.callback();

/** The interaction page: one form, posted to `/interaction/:uid/login`. */
async function showLoginForm(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const { uid } = await provider.interactionDetails(req, res);
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(`<!doctype html><title>Sign in</title><form method="post" action="/interaction/${uid}/login"><button>Sign in</button></form>`);
}

/** The form post: login as the fixed account plus a grant of what was asked for, then back to /oidc/auth/:uid (303). */
async function finishLogin(req: IncomingMessage, res: ServerResponse): Promise<void> {
  // The form has no fields we need, but its body must be read before answering.
  for await (const _chunk of req);
  const details = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: ACCOUNT.sub, clientId: String(details.params.client_id) });
  grant.addOIDCScope(String(details.params.scope ?? 'openid'));
  const grantId = await grant.save();
  const location = await provider.interactionResult(req, res, { login: { accountId: ACCOUNT.sub }, consent: { grantId } }, { mergeWithLastSubmission: false });
  res.statusCode = 303;
  res.setHeader('location', location);
  res.end();
}

const fail = (res: ServerResponse) => (error: unknown) => {
  res.statusCode = 500;
  res.end(String(error));
};

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/interaction/')) {
    const handle = req.method === 'POST' && url.endsWith('/login') ? finishLogin : showLoginForm;
    handle(req, res).catch(fail(res));
    return;
  }
  if (url === '/health') {
    res.end('ok');
    return;
  }
  if (url.startsWith('/oidc')) {
    // Mounted under /oidc like Sesame's, so issuer and endpoint paths match.
    (req as typeof req & { originalUrl?: string }).originalUrl = url;
    req.url = url.slice('/oidc'.length) || '/';
    void callback(req, res);
    return;
  }
  res.statusCode = 404;
  res.end();
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
