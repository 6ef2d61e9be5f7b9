-- Keep in step with ../postgres/0003_otp_vault.sql: same tables, columns and constraints.

-- API tokens for the OTP service and the vault (mfac token add), each with its scopes.
CREATE TABLE api_tokens (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the token; the token itself is never stored
    scopes     TEXT NOT NULL,          -- comma-separated: otp, vault:read, vault:write
    vault_apps TEXT,                   -- comma-separated vault app ids it is limited to; NULL = all
    created_at INTEGER NOT NULL
);

-- HOTP/TOTP credentials the OTP service made for an application's users. Each belongs to the
-- token (by name) that created it. Accepting a code is one conditional UPDATE of last_step
-- (TOTP) or counter (HOTP); every attempt is counted first in failures, which a success resets.
CREATE TABLE otp_credentials (
    id            TEXT PRIMARY KEY,    -- random, unguessable
    owner         TEXT NOT NULL,       -- api_tokens.name
    kind          TEXT NOT NULL,       -- totp | hotp
    secret_sealed BLOB NOT NULL,       -- the seed, sealed, bound to "otp:<id>"
    algorithm     TEXT NOT NULL,
    digits        INTEGER NOT NULL,
    period        INTEGER,             -- TOTP: time step in seconds
    counter       INTEGER,             -- HOTP: the next counter expected
    last_step     INTEGER,             -- TOTP: highest step accepted; codes at or below are replays
    issuer        TEXT,
    label         TEXT NOT NULL,
    failures      INTEGER NOT NULL DEFAULT 0,  -- attempts without success since fail_since
    fail_since    INTEGER NOT NULL DEFAULT 0,  -- start of the throttling window
    created_at    INTEGER NOT NULL
);
CREATE INDEX otp_credentials_by_owner ON otp_credentials (owner);

-- One-time codes (the email/SMS kind): only a keyed hash of the code is stored.
CREATE TABLE otp_codes (
    id           TEXT PRIMARY KEY,     -- random, unguessable
    owner        TEXT NOT NULL,        -- api_tokens.name
    code_hash    TEXT NOT NULL,        -- HMAC-SHA-256 of the code, bound to "otp-code:<id>"
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER               -- set once, by the one verification that succeeds
);
CREATE INDEX otp_codes_by_expiry ON otp_codes (expires_at);

-- The shared TOTP vault: team seeds for shared accounts.
CREATE TABLE vault_apps (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: token limits name ids
    name          TEXT NOT NULL,
    attribute     TEXT,
    secret_sealed BLOB NOT NULL,                      -- the seed, sealed, bound to "vault:<id>"
    algorithm     TEXT NOT NULL,
    digits        INTEGER NOT NULL,
    period        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL
);
