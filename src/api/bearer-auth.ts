import type { FastifyRequest } from 'fastify';
import { createLocalJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { Database } from '../db/database.ts';
import { findApplication } from '../db/applications.ts';
import { MANAGEMENT_SCOPE } from '../management/management-resource.ts';
import { CONSOLE_CLIENT_ID } from '../management/admins.ts';
import { findUserById } from '../db/users.ts';
import { ApiError } from './errors.ts';

export interface BearerAuthOptions {
  db: Database;
  issuer: string;
  /** `${ENDPOINT}/api`: the aud of every management API token. */
  audience: string;
  /** The provider's public JWKS (the key ring's /oidc/jwks body), current within a second. */
  jwks: () => Promise<string>;
}

/** The m2m app a request acts for, or the administrator the admin console's token was issued for. */
export interface ApiCaller {
  applicationId: string;
  userId?: string;
}

const REALM = 'Sesame management API';

const unauthorized = (description: string) =>
  new ApiError(401, 'auth.unauthorized', description, {
    'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description.replace(/["\\]/g, '')}"`,
  });

const forbidden = (description: string) =>
  new ApiError(403, 'auth.forbidden', description, {
    'www-authenticate': `Bearer realm="${REALM}", error="insufficient_scope", scope="${MANAGEMENT_SCOPE}", error_description="${description.replace(/["\\]/g, '')}"`,
  });

/**
 * Checks the Bearer token of a management API request: a JWT access token signed with one of the
 * provider's own keys, from our issuer, not expired (401 otherwise), for the management API with
 * the scope `all` (403 otherwise), issued by client_credentials to a machine-to-machine app that
 * still exists (401) and still holds the management grant (403). The app is read on every request,
 * so a revoked grant or a deleted app stops its tokens at once, not when they expire.
 *
 * The one other kind of token accepted: the admin console's (App ID CONSOLE_CLIENT_ID), issued by
 * authorization_code/refresh_token for a person. Its subject must still exist (401), hold the admin
 * role and not be suspended (403), read on every request likewise: a removed administrator's token
 * stops at their next call.
 */
export function bearerAuth({ db, issuer, audience, jwks }: BearerAuthOptions) {
  let keySet: { body: string; get: ReturnType<typeof createLocalJWKSet> } | undefined;
  const currentKeys = async () => {
    const body = await jwks();
    if (keySet?.body !== body) keySet = { body, get: createLocalJWKSet(JSON.parse(body) as Parameters<typeof createLocalJWKSet>[0]) };
    return keySet.get;
  };

  return async function authenticate(request: FastifyRequest): Promise<ApiCaller> {
    const header = request.headers.authorization;
    if (!header) throw unauthorized('this API needs an access token: send Authorization: Bearer <token> (get one by client_credentials)');
    const match = /^Bearer +([A-Za-z0-9\-_.~+/]+=*) *$/i.exec(header);
    if (!match) throw unauthorized('the Authorization header must be "Bearer <access token>"');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(match[1]!, await currentKeys(), { issuer, typ: 'at+jwt', algorithms: ['RS256', 'ES256'] }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw unauthorized('the access token has expired; get a new one');
      throw unauthorized('the access token is not valid here (not a JWT signed by this Sesame for its issuer)');
    }
    const audiences = typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []);
    if (!audiences.includes(audience)) throw forbidden(`the access token is for another API; ask for resource=${audience}`);
    const scopes = typeof payload.scope === 'string' ? payload.scope.split(' ') : [];
    if (!scopes.includes(MANAGEMENT_SCOPE)) throw forbidden(`the access token lacks the scope "${MANAGEMENT_SCOPE}"; ask for scope=${MANAGEMENT_SCOPE}`);
    const clientId = typeof payload.client_id === 'string' ? payload.client_id : undefined;
    if (clientId === CONSOLE_CLIENT_ID && typeof payload.sub === 'string' && payload.sub !== clientId) {
      const user = await findUserById(db, payload.sub);
      if (!user) throw unauthorized('the account this token was issued for no longer exists');
      if (!user.isAdmin || user.isSuspended) throw forbidden('this account is not an administrator (any more)');
      return { applicationId: clientId, userId: user.id };
    }
    // A client_credentials token's subject is the app itself; anything else was issued for a person.
    if (!clientId || payload.sub !== clientId) throw forbidden('only a machine-to-machine app\'s own token (client_credentials) may call this API');
    const app = await findApplication(db, clientId);
    if (!app) throw unauthorized('the app this token was issued to no longer exists');
    if (app.type !== 'machine_to_machine' || !app.managementAccess) throw forbidden('this app no longer has access to the management API');
    return { applicationId: app.id };
  };
}
