import type Provider from 'oidc-provider';
import type { Interaction } from 'oidc-provider';

/**
 * Grants what the app asked for. Used for first-party apps (every app registered with the CLI),
 * where asking the person would be noise: Logto SDKs send prompt=consent on every sign-in.
 */
export async function grantRequested(provider: Provider, details: Interaction, accountId: string): Promise<string> {
  const clientId = String(details.params.client_id);
  const grant = details.grantId
    ? ((await provider.Grant.find(details.grantId)) ?? new provider.Grant({ accountId, clientId }))
    : new provider.Grant({ accountId, clientId });
  const scope = typeof details.params.scope === 'string' ? details.params.scope : 'openid';
  grant.addOIDCScope(scope);
  if (typeof details.params.claims === 'string') {
    const claims = JSON.parse(details.params.claims) as { id_token?: object; userinfo?: object };
    grant.addOIDCClaims([...Object.keys(claims.id_token ?? {}), ...Object.keys(claims.userinfo ?? {})]);
  }
  const resources = details.params.resource;
  for (const resource of Array.isArray(resources) ? resources : resources ? [resources] : []) {
    grant.addResourceScope(String(resource), scope);
  }
  return grant.save();
}
