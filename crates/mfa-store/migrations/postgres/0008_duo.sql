-- Keep in step with ../sqlite/0008_duo.sql.
-- Duo integrations (issue 14): Duo's unmodified Unix clients (pam_duo, login_duo, duo_client)
-- sign their requests with an HMAC under the integration's skey, so the server must be able to
-- compute that HMAC: the skey is stored sealed (like TOTP seeds), never hashed, bound to
-- "duo:<ikey>:skey". It scopes hosts like a server token (servers.hosts).
CREATE TABLE duo_integrations (
    name            TEXT PRIMARY KEY,          -- validated like an API token's name (Alias)
    ikey            TEXT NOT NULL UNIQUE,      -- public: "DI" + 18 of A-Z0-9
    skey_sealed     BYTEA NOT NULL,            -- the 40-character skey, sealed
    hosts           TEXT NOT NULL,             -- comma-separated host patterns it may speak for
    legacy          BIGINT NOT NULL DEFAULT 0 CHECK (legacy IN (0, 1)),   -- /rest/v1/*.bson too
    created_at      BIGINT NOT NULL,
    skey_rotated_at BIGINT                     -- the last `mfac duo rotate`; NULL: never
);
