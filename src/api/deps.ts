import type { Config } from '../config/index.ts';
import type { Database } from '../db/database.ts';
import type { Mailer } from '../mail/mailer.ts';
import type { PasswordHasher } from '../sign-in/passwords.ts';

/** What the management API's routes need, passed in by src/app.ts. */
export interface ApiDeps {
  config: Readonly<Config>;
  db: Database;
  passwords: PasswordHasher;
  /** The server's mailer (the stored connector, SMTP_* or the dev mailbox), for test emails. */
  mailer: () => Mailer;
  /** The provider's public JWKS, as served at /oidc/jwks. */
  jwks: () => Promise<string>;
  now: () => number;
}
