-- What a sign-in waiting for its second factor will record once that passes (src/audit/sign-in.ts
-- SignInRecord, as JSON): its audit event and whether it proved the address. Until then the first
-- factor alone is neither logged as a sign-in nor the account's last sign-in. Rows pending at the
-- upgrade record a plain sign-in.
ALTER TABLE mfa_pending ADD COLUMN sign_in TEXT NOT NULL DEFAULT '{"event":"SignIn","data":{},"emailVerified":false}';
