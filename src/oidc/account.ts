import type { Account, FindAccount } from 'oidc-provider';
import type { Database } from '../db/database.ts';
import { findUserById, type User } from '../db/users.ts';

/** Claims by scope; oidc-provider filters these by what the grant allows. */
export const CLAIMS_BY_SCOPE = {
  openid: ['sub'],
  email: ['email', 'email_verified'],
  profile: ['name', 'username', 'updated_at'],
} as const;

export function userClaims(user: User) {
  return {
    sub: user.id,
    email: user.email,
    email_verified: user.emailVerified,
    name: user.name,
    username: user.username,
    updated_at: Math.floor(user.updatedAt / 1000),
  };
}

export function createFindAccount(db: Database): FindAccount {
  return async (_ctx, sub): Promise<Account | undefined> => {
    const user = await findUserById(db, sub);
    if (!user) return undefined;
    return { accountId: user.id, claims: () => userClaims(user) };
  };
}
