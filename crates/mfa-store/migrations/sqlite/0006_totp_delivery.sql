-- Keep in step with ../postgres/0006_totp_delivery.sql.
-- A client's TOTP seed is handed to the client once (POST /v1/client/enroll, `mfa enroll`), so
-- that a client key stolen later yields no TOTP codes.

-- When the current seed was delivered (ms since the epoch); NULL: not yet, deliverable once.
-- Seeds from before this migration are NULL: their clients fetch them with `mfa enroll` again.
-- Replacing the seed (mfac client reset-totp) sets it back to NULL.
ALTER TABLE clients ADD COLUMN totp_delivered_at INTEGER;
