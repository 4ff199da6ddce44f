import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';
import type { Database } from '../db/database.ts';
import { findResourceByIndicator } from '../db/resources.ts';
import { CLAIMS_BY_SCOPE, OIDC_SCOPES } from '../oidc/account.ts';

/** What oidc-provider's consent checks found missing: `prompt.details` of the consent prompt. */
export interface Missing {
  missingOIDCScope?: string[];
  missingOIDCClaims?: string[];
  missingResourceScopes?: Record<string, string[]>;
}

/**
 * Grants what is missing, as oidc-provider's example/routes do: the grant the authorization request
 * already has (or a new one), plus the missing OIDC scopes, claims and each resource's missing
 * scopes. At the consent prompt, `missing` is that prompt's details. For first-party apps (every app
 * registered with the CLI) this runs without a page: Logto SDKs send prompt=consent on every
 * sign-in, and asking the person would be noise.
 */
export async function grantRequested(
  provider: Provider,
  interaction: Interaction,
  accountId: string,
  missing: Missing = interaction.prompt.details,
): Promise<string> {
  const existing = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
  // At sign-in someone else may sign in over the session's account: their grant starts afresh.
  const grant =
    existing?.accountId === accountId ? existing : new provider.Grant({ accountId, clientId: String(interaction.params.client_id) });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes ?? {})) {
    grant.addResourceScope(indicator, scopes.join(' '));
  }
  return grant.save();
}

const SUPPORTED_SCOPES: ReadonlySet<string> = new Set(OIDC_SCOPES);
const SUPPORTED_CLAIMS: ReadonlySet<string> = new Set(Object.values(CLAIMS_BY_SCOPE).flat());

/**
 * What the consent checks would find missing, for a consent given in the sign-in step itself
 * (completeSignIn). The interaction is then at the login prompt: oidc-provider stops at the first
 * prompt that has a reason, so the consent checks have not run and `prompt.details` holds no
 * missing*. This repeats their narrowing of the request: the requested scopes that are OIDC scopes,
 * the requested claims the provider supports, and for each requested resource the requested scopes
 * it defines (oidc-provider checked the indicators before the interaction began). Whatever the grant
 * already holds is added again harmlessly: a grant keeps sets.
 */
export async function missingAtSignIn(db: Database, interaction: Interaction): Promise<Missing> {
  const { scope, claims, resource } = interaction.params;
  const requested = typeof scope === 'string' ? scope.split(' ').filter(Boolean) : [];
  const missing: Missing = { missingOIDCScope: requested.filter((name) => SUPPORTED_SCOPES.has(name)) };
  if (typeof claims === 'string') {
    const { id_token: idToken, userinfo } = JSON.parse(claims) as { id_token?: object; userinfo?: object };
    const named = new Set([...Object.keys(idToken ?? {}), ...Object.keys(userinfo ?? {})]);
    missing.missingOIDCClaims = [...named].filter((claim) => SUPPORTED_CLAIMS.has(claim));
  }
  missing.missingResourceScopes = {};
  for (const indicator of Array.isArray(resource) ? resource : resource ? [resource] : []) {
    const defined = new Set((await findResourceByIndicator(db, String(indicator)))?.scopes);
    const scopes = requested.filter((name) => defined.has(name));
    if (scopes.length) missing.missingResourceScopes[String(indicator)] = scopes;
  }
  return missing;
}
