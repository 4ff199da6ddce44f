/**
 * The ceiling: bare oidc-provider 9 with its in-memory adapter, configured like Sesame's provider
 * (same keys and alg, same scopes, claims, PKCE, refresh rotation, opaque access tokens) but with
 * nothing of ours around it. The interaction endpoint signs in a fixed account and grants what was
 * asked, with no pages, so code flows finish on their own.
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import Provider, { errors, type Configuration } from 'oidc-provider';

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}/oidc`;
const jwks = JSON.parse(readFileSync(process.env.JWKS_FILE!, 'utf8')) as Configuration['jwks'];

const ACCOUNT = { sub: 'benchuser0001', email: 'bare@example.com', email_verified: true, name: null, username: null, updated_at: 0 };

const configuration: Configuration = {
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

const server = createServer((req, res) => {
  const url = req.url ?? '/';
  if (url.startsWith('/interaction/')) {
    void (async () => {
      const details = await provider.interactionDetails(req, res);
      const grant = new provider.Grant({ accountId: ACCOUNT.sub, clientId: String(details.params.client_id) });
      grant.addOIDCScope(String(details.params.scope ?? 'openid'));
      const grantId = await grant.save();
      await provider.interactionFinished(
        req,
        res,
        { login: { accountId: ACCOUNT.sub }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    })().catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
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
