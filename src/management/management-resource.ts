/**
 * The management API as an API resource: machine-to-machine apps that an operator granted it get an
 * access token for it by client_credentials, and /api accepts only such tokens.
 */

/** The one scope of the management API; it allows every /api route (Logto's `all`). */
export const MANAGEMENT_SCOPE = 'all';

/**
 * What @logto/api's createManagementApi('default', ...) asks for (Logto OSS's default tenant): accepted
 * as a second name of the same resource so that Logto's client works against Sesame unmodified.
 */
export const LOGTO_DEFAULT_TENANT_INDICATOR = 'https://default.logto.app/api';

/** How long a management API token lives (seconds); @logto/api fetches a new one before it expires. */
export const MANAGEMENT_TOKEN_TTL = 3600;

/** The canonical indicator, `${ENDPOINT}/api`: the `aud` of every management API token. */
export const managementIndicator = (endpoint: string) => `${endpoint}/api`;

/** Both names of the management API resource. */
export function isManagementIndicator(indicator: string, endpoint: string): boolean {
  return indicator === managementIndicator(endpoint) || indicator === LOGTO_DEFAULT_TENANT_INDICATOR;
}
