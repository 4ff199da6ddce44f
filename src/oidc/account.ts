import type { Account, FindAccount } from 'oidc-provider';
import type { Database } from '../db/database.ts';
import { findUserById, type User } from '../db/users.ts';

/** Claims by scope; oidc-provider filters these by what the grant allows. */
export const CLAIMS_BY_SCOPE = {
  // amr (RFC 8176): how the person proved who they are at sign-in ("email", "pwd", "hwk", and "otp"
  // "mfa" after a second factor), so an app can ask for a second factor where it matters. It comes
  // from the session, so only ID tokens carry it (not userinfo, which answers from the account).
  openid: ['sub', 'amr'],
  email: ['email', 'email_verified'],
  profile: ['name', 'username', 'updated_at'],
  // Logto's extra scopes: objects that can grow, so like Logto they are served by userinfo only.
  custom_data: ['custom_data'],
  identities: ['identities'],
} as const;

/** Every scope the provider knows besides API resource scopes. */
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email', 'custom_data', 'identities'] as const;

const USERINFO_ONLY_CLAIMS = ['custom_data', 'identities'] as const;

function userClaims(user: User) {
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    username: user.username,
    updated_at: Math.floor(user.updatedAt / 1000),
    custom_data: user.customData,
    // Sesame has no social sign-in; Logto SDKs expect an object here.
    identities: {},
  };
}

export function createFindAccount(db: Database): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const user = await findUserById(db, sub);
    // A suspended account is unknown to the provider: its refresh tokens and sessions stop working.
    if (!user || user.isSuspended) return undefined;
    return {
      accountId: user.id,
      claims: (use) => {
        const claims: Record<string, unknown> = userClaims(user);
        if (use === 'id_token') for (const claim of USERINFO_ONLY_CLAIMS) delete claims[claim];
        return claims as ReturnType<typeof userClaims> & { sub: string };
      },
    };
  };
}
