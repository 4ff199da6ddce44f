import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import { createAdapterFactory, findClientsByMetadata } from './adapter.ts';
import { enforceRegisteredClientAuthMethod } from './client-auth.ts';
import { CLAIMS_BY_SCOPE, createFindAccount, OIDC_SCOPES } from './account.ts';
import { findResourceByIndicator } from '../db/resources.ts';
import { findApplication } from '../db/applications.ts';
import { isManagementIndicator, MANAGEMENT_SCOPE, MANAGEMENT_TOKEN_TTL, managementIndicator } from '../management/management-resource.ts';
import type { KeysInUse } from './key-ring.ts';
import { CONSOLE_CLIENT_ID, isActiveAdministrator } from '../management/admins.ts';
import { cookieKeygrip } from './cookie-keygrip.ts';
// oidc-provider reads its keys once, in its constructor, through this helper; calling it again is
// the one way to change them in a running provider (see useKeys). No `exports` map guards the path,
// and test/integration/jwks-rotation.test.ts fails if a release moves or changes it.
import initializeKeystore from 'oidc-provider/lib/helpers/initialize_keystore.js';
import { describeOidcError, resourceNotRequestedDescription, unknownResourceDescription } from './errors.ts';
import type { OidcPages } from './pages.ts';
import { appDisplayName } from './app-name.ts';
import { chooseLanguage, DEFAULT_LANGUAGE_INFO, Phrase, type Language, type LanguageInfo } from '../i18n/index.ts';
import { LANGUAGE_COOKIE } from '../http/language.ts';

interface ProviderDeps {
  config: Readonly<Config>;
  db: Database;
  /** The keys in use at start; src/server.ts hands later changes to useKeys(). */
  keys: KeysInUse;
  /** Renders the pages oidc-provider answers with (the app's views, passed in by src/server.ts). */
  pages: OidcPages;
  /** The sign-in experience's language setting, for the pages oidc-provider answers with. */
  languageInfo?: () => Promise<LanguageInfo>;
  now?: () => number;
}

type PageLanguage = (ctx: KoaContextWithOIDC, switcher?: boolean) => Promise<{ lang: Language; here?: string }>;

/**
 * The language of a page oidc-provider answers with, chosen as the sign-in pages choose theirs: the
 * switcher's cookie, the request's ui_locales, Accept-Language, the fallback. A setting that cannot be
 * read (the database is down) leaves the defaults: an error page must still render.
 */
function pageLanguageFrom(languageInfo?: () => Promise<LanguageInfo>): PageLanguage {
  return async (ctx, switcher = true) => {
    const info = languageInfo ? await languageInfo().catch(() => DEFAULT_LANGUAGE_INFO) : DEFAULT_LANGUAGE_INFO;
    const lang = chooseLanguage({
      uiLocales: ctx.oidc?.params?.ui_locales,
      acceptLanguage: ctx.get('accept-language'),
      cookie: ctx.cookies.get(LANGUAGE_COOKIE, { signed: false }),
      info,
    });
    return { lang, here: switcher && ctx.method === 'GET' ? ctx.originalUrl : undefined };
  };
}

const HOUR = 60 * 60;
const DAY = 24 * HOUR;

export function createProvider({ config, db, keys, pages, languageInfo, now = Date.now }: ProviderDeps): Provider {
  const pageLanguage = pageLanguageFrom(languageInfo);
  const cookieOptions = { httpOnly: true, sameSite: 'lax' as const, secure: config.secureCookies, signed: true };
  const adapter = createAdapterFactory(db, now);

  const configuration: Configuration = {
    adapter,
    findAccount: createFindAccount(db),
    // Which stored key signs depends on how long it has been published: see signingJwks().
    jwks: { keys: keys.signing } as unknown as Configuration['jwks'],
    cookies: { keys: cookieKeygrip(keys.cookie) as unknown as string[], long: cookieOptions, short: cookieOptions },
    responseTypes: ['code'],
    scopes: [...OIDC_SCOPES],
    claims: { ...CLAIMS_BY_SCOPE },
    // Logto SDKs and our demo read profile claims from the ID token of a code flow.
    conformIdTokenClaims: false,
    pkce: { required: () => true },
    features: providerFeatures(db, pages, config.endpoint, pageLanguage),
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    issueRefreshToken: async (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    // Every refresh response carries a new refresh token (Logto SDKs expect one); reuse of a rotated
    // token is detected by oidc-provider and revokes the whole grant.
    rotateRefreshToken: async (ctx) => {
      await refuseBadRefreshTarget(ctx, db, config.endpoint);
      // Except the admin console's: it keeps its refresh token on the server (never in a browser), and
      // two of its requests (two tabs, two instances) may refresh at once; with rotation the second
      // would look like reuse and revoke the administrator's whole grant.
      return ctx.oidc.client?.clientId !== CONSOLE_CLIENT_ID;
    },
    ttl: {
      // An API resource's token lives as long as that resource says; the userinfo token an hour.
      AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? HOUR,
      ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? HOUR,
      AuthorizationCode: 60,
      IdToken: HOUR,
      Interaction: HOUR,
      Grant: 14 * DAY,
      Session: 14 * DAY,
      RefreshToken: 14 * DAY,
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      const { title, message } = describeOidcError(out.error, out.error_description);
      // No switcher on an error page: it is a dead end, and its address carries what the app sent
      // (a refused redirect_uri, say), which the page must not repeat.
      ctx.body = pages.render('error', { title, message, details: out.error, ...(await pageLanguage(ctx, false)) });
    },
  };

  const provider = new Provider(config.issuer, configuration);
  findClientsByMetadata(provider, adapter);
  enforceRegisteredClientAuthMethod(provider);
  // koa reads X-Forwarded-For only when some proxy is trusted, and then as many entries as TRUST_PROXY
  // counts hops; the mount in src/http/oidc.ts hands oidc-provider the client address as fastify
  // would read it (clientAddressOf, the same TRUST_PROXY rules) and drops X-Forwarded-Host/-Proto, so ENDPOINT alone decides the URLs it builds.
  provider.proxy = config.trustProxy !== false;
  if (typeof config.trustProxy === 'number') provider.maxIpsCount = config.trustProxy;
  return provider;
}

/**
 * Switches a running provider to `keys` (a rotation seen by the key ring): it signs tokens with the
 * new signer of each alg and still verifies with every other key; its cookies are signed with the
 * new first cookie key (koa reads `app.keys` on every request) and checked against all of them.
 */
export function useKeys(provider: Provider, keys: KeysInUse): void {
  initializeKeystore.call(provider, { keys: keys.signing });
  provider.keys = cookieKeygrip(keys.cookie) as unknown as string[];
}

/** The optional parts of OAuth/OIDC Sesame turns on, and how each one is scoped. */
function providerFeatures(db: Database, pages: OidcPages, endpoint: string, pageLanguage: PageLanguage): Configuration['features'] {
  return {
    devInteractions: { enabled: false },
    // Machine-to-machine apps (and only they: see the adapter's grant_types) get tokens for API
    // resources, the management API among them, with their App ID and Secret.
    clientCredentials: { enabled: true },
    userinfo: { enabled: true },
    revocation: {
      enabled: true,
      // An app may revoke only tokens issued to it.
      allowedPolicy: async (_ctx, client, token) => {
        if (token.clientId !== client.clientId) throw new errors.InvalidRequest('client is not authorized to revoke the presented token');
        return true;
      },
    },
    introspection: {
      enabled: true,
      // RFC 7662: only the client a token was issued to learns anything about it; every other
      // caller gets {active: false}, as for an unknown token. Registered resource servers would be
      // the other legitimate callers, but Sesame has no link from a client to the resources it
      // serves yet (the management API's machine-to-machine apps will add one).
      allowedPolicy: async (_ctx, client, token) => token.clientId === client.clientId,
    },
    rpInitiatedLogout: {
      enabled: true,
      logoutSource: async (ctx, form) => renderLogout(ctx, form, pages, pageLanguage),
      postLogoutSuccessSource: async (ctx) => {
        ctx.type = 'html';
        ctx.body = pages.render('signed-out', {
          title: new Phrase('pages.signedOut.title'),
          appName: appDisplayName(ctx.oidc.client),
          ...(await pageLanguage(ctx)),
        });
      },
    },
    resourceIndicators: {
      enabled: true,
      // No resource at the token endpoint means an opaque token for userinfo, as with Logto:
      // Logto SDKs exchange the code without `resource` and use that token for fetchUserInfo,
      // then ask for each API resource's token with a refresh grant that names it.
      defaultResource: (ctx) => {
        // Without a resource, client_credentials would mint an opaque token that no API accepts.
        if (ctx.oidc.params?.grant_type === 'client_credentials') {
          throw new errors.InvalidTarget(`client_credentials needs resource=<API indicator>, such as resource=${managementIndicator(endpoint)} for the management API`);
        }
        return undefined;
      },
      useGrantedResource: () => false,
      getResourceServerInfo: async (ctx, indicator, client) => {
        if (isManagementIndicator(indicator, endpoint)) return managementResourceServer(ctx, db, client, indicator, endpoint);
        const resource = await findResourceByIndicator(db, indicator);
        if (!resource) throw new errors.InvalidTarget(unknownResourceDescription(indicator));
        return {
          scope: resource.scopes.join(' '),
          audience: resource.indicator,
          accessTokenTTL: resource.accessTokenTtl,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        };
      },
    },
  };
}

const managementOnly = (indicator: string) =>
  `${indicator} is Sesame's management API: only machine-to-machine apps get tokens for it, by client_credentials`;

/** The refusal the admin console recognises (src/console/) to show its "not an administrator" page. */
export const NOT_AN_ADMINISTRATOR = 'this account is not an administrator of this Sesame';

/**
 * The admin console may ask for the management API for a person: at the authorization endpoint (who
 * signs in is not known yet) and at the token endpoint by authorization_code or refresh_token, when
 * the person holds the admin role and is not suspended (read now, so a removed administrator gets no
 * new token). Every other app, and any other grant, is refused as before.
 */
async function refuseConsoleNonAdministrator(ctx: KoaContextWithOIDC, db: Database, indicator: string): Promise<void> {
  const grantType = ctx.oidc.params?.grant_type;
  if (grantType === undefined) return;
  if (grantType !== 'authorization_code' && grantType !== 'refresh_token') throw new errors.InvalidTarget(managementOnly(indicator));
  const { AuthorizationCode: code, RefreshToken: refresh } = ctx.oidc.entities;
  const accountId = (grantType === 'authorization_code' ? code : refresh)?.accountId;
  if (!accountId || !(await isActiveAdministrator(db, accountId))) throw new errors.InvalidTarget(NOT_AN_ADMINISTRATOR);
}

/**
 * The management API (`${ENDPOINT}/api`, also named https://default.logto.app/api for @logto/api) as a
 * resource server: only for client_credentials, and only to a machine-to-machine app an operator
 * granted it (read from the database on every request, so a grant or revocation applies at once).
 * A person's sign-in never gets a token for it, whatever the app asks for, except through the admin
 * console, for an administrator (refuseConsoleNonAdministrator).
 */
async function managementResourceServer(
  ctx: KoaContextWithOIDC,
  db: Database,
  client: { clientId: string },
  indicator: string,
  endpoint: string,
): Promise<ResourceServer> {
  if (client.clientId === CONSOLE_CLIENT_ID) {
    await refuseConsoleNonAdministrator(ctx, db, indicator);
    return managementApiServer(endpoint);
  }
  if (ctx.oidc.params?.grant_type !== 'client_credentials') {
    throw new errors.InvalidTarget(managementOnly(indicator));
  }
  const app = await findApplication(db, client.clientId);
  if (app?.type !== 'machine_to_machine' || !app.managementAccess) {
    throw new errors.InvalidTarget(
      `this app may not use the management API; an operator grants it with \`sesame app grant-management ${client.clientId}\``,
    );
  }
  return managementApiServer(endpoint);
}

/** The management API as a resource server: its tokens are JWTs for `${ENDPOINT}/api` with the scope `all`. */
function managementApiServer(endpoint: string): ResourceServer {
  return {
    scope: MANAGEMENT_SCOPE,
    audience: managementIndicator(endpoint),
    accessTokenTTL: MANAGEMENT_TOKEN_TTL,
    accessTokenFormat: 'jwt',
    jwt: { sign: { alg: 'RS256' } },
  };
}

/**
 * oidc-provider rotates the refresh token before it looks at `resource`, so a refresh naming a bad
 * resource would consume the app's only refresh token and answer with an error: the app's next
 * refresh would then look like token reuse and revoke the whole grant. Refusing first keeps one
 * mistaken getAccessToken(resource) from signing the person out.
 */
async function refuseBadRefreshTarget(ctx: KoaContextWithOIDC, db: Database, endpoint: string): Promise<void> {
  const requested: unknown = ctx.oidc.params?.resource;
  if (requested === undefined) return;
  if (typeof requested !== 'string') {
    throw new errors.InvalidTarget('only a single resource indicator value must be requested during Access Token Request');
  }
  const token = ctx.oidc.entities.RefreshToken;
  if (isManagementIndicator(requested, endpoint)) {
    if (ctx.oidc.client?.clientId !== CONSOLE_CLIENT_ID) throw new errors.InvalidTarget(managementOnly(requested));
    await refuseConsoleNonAdministrator(ctx, db, requested);
    if (!token?.resourceIndicators.has(requested)) throw new errors.InvalidTarget(resourceNotRequestedDescription(requested, true));
    return;
  }
  const registered = Boolean(await findResourceByIndicator(db, requested));
  if (!token?.resourceIndicators.has(requested)) {
    throw new errors.InvalidTarget(resourceNotRequestedDescription(requested, registered));
  }
  if (!registered) throw new errors.InvalidTarget(unknownResourceDescription(requested));
}

/**
 * RP-initiated logout. When the app names a registered post-logout URI, sign-out completes with no
 * confirmation click: the page posts the form itself (script from our own origin, CSP-safe), with a
 * button for browsers without JavaScript. Without a registered URI, the person is asked.
 */
async function renderLogout(ctx: KoaContextWithOIDC, form: string, pages: OidcPages, pageLanguage: PageLanguage): Promise<void> {
  const autoConfirm = Boolean(ctx.oidc.client && ctx.oidc.params?.post_logout_redirect_uri);
  ctx.type = 'html';
  ctx.body = pages.render('logout', {
    title: new Phrase(autoConfirm ? 'pages.logout.autoTitle' : 'pages.logout.title'),
    appName: appDisplayName(ctx.oidc.client),
    providerForm: form,
    autoConfirm,
    ...(await pageLanguage(ctx)),
  });
}
