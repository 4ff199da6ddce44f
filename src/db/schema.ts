import type { Generated } from 'kysely';

/**
 * Every table Sesame keeps, as Kysely sees it: one interface per table, one property per column, the
 * TypeScript type of what the column holds (after every migration in migrations/<engine>/). Query
 * modules get their row types from here, so a renamed column or a wrong value type is a compile error.
 *
 * Conventions that hold on both engines: times are milliseconds since the epoch in BIGINT columns
 * (numbers here: the PostgreSQL driver must parse int8 as a number), booleans are INTEGER 0/1, and
 * JSON documents and lists are TEXT. `Generated<T>` marks a column with a default, optional on insert.
 * A column typed as a union of strings (an application's type, a key's purpose) holds only what
 * Sesame writes through these types; the database checks token_endpoint_auth_method itself.
 */
export interface Schema {
  applications: ApplicationsTable;
  oidc_model_instances: OidcModelInstancesTable;
  users: UsersTable;
  server_keys: ServerKeysTable;
  verification_codes: VerificationCodesTable;
  verification_sends: VerificationSendsTable;
  settings: SettingsTable;
  api_resources: ApiResourcesTable;
  api_resource_scopes: ApiResourceScopesTable;
  sign_in_failures: SignInFailuresTable;
  sign_in_locks: SignInLocksTable;
  health_check: HealthCheckTable;
  rate_limit_hits: RateLimitHitsTable;
  audit_logs: AuditLogsTable;
  console_sessions: ConsoleSessionsTable;
  // Passkeys and the account page (migration 0013).
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  account_sessions: AccountSessionsTable;
  // A second factor: TOTP, backup codes, sign-ins between their two factors (migration 0014).
  mfa_totp: MfaTotpTable;
  mfa_backup_codes: MfaBackupCodesTable;
  mfa_pending: MfaPendingTable;
  schema_migrations: SchemaMigrationsTable;
}

export interface ApplicationsTable {
  id: string;
  name: string;
  type: 'traditional' | 'machine_to_machine';
  secret: string;
  /** JSON list of strings. */
  redirect_uris: string;
  /** JSON list of strings. */
  post_logout_redirect_uris: string;
  is_third_party: Generated<number>;
  token_endpoint_auth_method: Generated<'client_secret_basic' | 'client_secret_post'>;
  /** 1: a machine-to-machine app an operator allowed to call the management API. */
  management_access: Generated<number>;
  created_at: number;
}

/** Every oidc-provider model (sessions, grants, codes, tokens, interactions, ...). */
export interface OidcModelInstancesTable {
  model: string;
  id: string;
  /** The model's JSON payload. */
  payload: string;
  expires_at: number | null;
  consumed_at: number | null;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  account_id: string | null;
}

export interface UsersTable {
  id: string;
  email: string;
  email_verified: Generated<number>;
  name: string | null;
  username: string | null;
  password_hash: string | null;
  /** JSON object. */
  custom_data: Generated<string>;
  created_at: number;
  updated_at: number;
  last_sign_in_at: number | null;
  /** 1: the account may not sign in and its tokens are refused (the management API's suspend). */
  is_suspended: Generated<number>;
  /** 1: an administrator, who may sign in to the admin console (`sesame admin add`). */
  is_admin: Generated<number>;
}

export interface ServerKeysTable {
  id: string;
  purpose: 'signing' | 'cookie' | 'code-hmac';
  material: string;
  created_at: number;
  retired_at: number | null;
}

/** One live code per (interaction, purpose). */
export interface VerificationCodesTable {
  interaction_uid: string;
  purpose: string;
  email: string;
  code_hmac: string;
  failed_attempts: Generated<number>;
  expires_at: number;
  last_sent_at: number;
  consumed_at: number | null;
  created_at: number;
  /** The sign-in link's token as an HMAC (migration 0012); null when the code went out without a link. */
  link_hmac: string | null;
  /** The code encrypted under a key derived from the link's token (see src/sign-in/links.ts). */
  link_code: string | null;
}

export interface VerificationSendsTable {
  id: string;
  email: string;
  ip: string;
  sent_at: number;
}

/** Operator settings, one JSON document per key (and the `settings.version` counter). */
export interface SettingsTable {
  key: string;
  value: string;
  updated_at: number;
}

export interface ApiResourcesTable {
  id: string;
  indicator: string;
  name: string;
  /** Seconds. */
  access_token_ttl: number;
  created_at: number;
}

/** One scope of an API resource (resource_id is api_resources.id; unique per resource by name). */
export interface ApiResourceScopesTable {
  id: string;
  resource_id: string;
  name: string;
  description: string | null;
  created_at: number;
}

export interface SignInFailuresTable {
  id: string;
  email: string;
  ip: string;
  failed_at: number;
}

/** `subject` is 'address <email>' or 'pair <email> <ip>'. */
export interface SignInLocksTable {
  subject: string;
  email: string;
  level: number;
  locked_until: number;
  updated_at: number;
}

/** One row (id 1) that /health rewrites. */
export interface HealthCheckTable {
  id: number;
  checked_at: number;
}

/** One HTTP rate-limit window per client key and budget, shared by instances (src/http/rate-limit-store.ts). */
export interface RateLimitHitsTable {
  key: string;
  window_start: number;
  hits: number;
}

/** One audit event (src/audit/log.ts); `seq` is the write order, `id` the public id. */
export interface AuditLogsTable {
  seq: Generated<number>;
  id: string;
  type: string;
  result: 'success' | 'failure';
  user_id: string | null;
  application_id: string | null;
  /** Who made a management change: 'cli' or 'app:<m2m app id>'. */
  actor: string | null;
  ip: string | null;
  user_agent: string | null;
  /** JSON object of non-secret details. */
  data: string;
  created_at: number;
}

/** One admin console session (src/console/session.ts); `id` is the SHA-256 of the cookie's token. */
export interface ConsoleSessionsTable {
  id: string;
  user_id: string;
  /** JSON object: the session's tokens and a one-time notice. */
  data: Generated<string>;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/** One WebAuthn credential (passkey) of an account (src/db/passkeys.ts; see migration 0013). */
export interface PasskeysTable {
  id: string;
  user_id: string;
  /** base64url, unique. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: Generated<number>;
  /** JSON list of strings ('internal', 'hybrid', 'usb', ...). */
  transports: Generated<string>;
  /** The backup-eligible flag: 'multiDevice' when set. */
  device_type: 'singleDevice' | 'multiDevice';
  /** The backup-state flag as last seen. */
  backed_up: Generated<number>;
  name: string;
  created_at: number;
  last_used_at: number | null;
}

/** A single-use WebAuthn challenge; `id` is 'signin:<interaction uid>' or 'register:<account session id>'. */
export interface WebauthnChallengesTable {
  id: string;
  challenge: string;
  user_id: string | null;
  expires_at: number;
}

/** One account page session (src/account/session.ts); `id` is the SHA-256 of the cookie's token. */
export interface AccountSessionsTable {
  id: string;
  user_id: string;
  /** JSON object: a one-time notice. */
  data: Generated<string>;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
}

/** An account's authenticator app (src/db/mfa.ts; see migration 0014). */
export interface MfaTotpTable {
  user_id: string;
  /** The public ID (the management API's Totp entry). */
  id: string;
  /** RFC 6238 shared secret, base32. */
  secret: string;
  /** Time step of the last accepted code. */
  last_step: number | null;
  created_at: number;
  /** null: enrolment started, not confirmed by a code yet. */
  confirmed_at: number | null;
}

/** One single-use backup code, as the SHA-256 of user ID and code. */
export interface MfaBackupCodesTable {
  id: string;
  user_id: string;
  set_id: string;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

/** A sign-in that passed its first factor and waits for its second, keyed by interaction uid. */
export interface MfaPendingTable {
  interaction_uid: string;
  user_id: string;
  /** JSON list: the first factor's amr. */
  amr: string;
  /** JSON: what the sign-in records once the second factor passes (SignInRecord). */
  sign_in: string;
  created_at: number;
  expires_at: number;
  /** The second factor was set up in this interaction. */
  second_at: number | null;
}

/** Kept by the migration runner (src/db/migrate.ts), not by a migration file. */
export interface SchemaMigrationsTable {
  version: number;
  name: string;
  checksum: string;
  applied_at: number;
}
