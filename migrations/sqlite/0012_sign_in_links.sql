-- Sign-in links (issue 16): the code's email also carries a link, the same secret in a second form.
--
-- link_hmac: HMAC-SHA256 (the code key) of the link's random token, bound like code_hmac to the
-- interaction, purpose and address. It lives in the code's own row so that using the link or the
-- code consumes the one row (one UPDATE ... WHERE consumed_at IS NULL), and a wrong token counts in
-- the row's failed_attempts like a wrong code. NULL: the code was sent without a link.
-- link_code: the 6-digit code encrypted (AES-256-GCM) under a key derived from the token, so the page
-- for a link opened in another browser can show the code to type where the sign-in started. Without
-- the token (which is only in the email) it reveals nothing.
ALTER TABLE verification_codes ADD COLUMN link_hmac TEXT;
ALTER TABLE verification_codes ADD COLUMN link_code TEXT;
