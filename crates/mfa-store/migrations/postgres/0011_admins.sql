-- Keep in step with ../sqlite/0011_admins.sql.
-- The admin console (issue 15): `mfac admin add NAME` makes an admin who signs in at /admin
-- with a password and a TOTP code; a sign-in opens a session (a cookie holding a random token,
-- stored here hashed) that ends at its expiry, on sign-out, or when the admin is removed.
CREATE TABLE admins (
    name           TEXT PRIMARY KEY,
    password_hash  TEXT NOT NULL,             -- argon2id (PHC string)
    totp_sealed    BYTEA NOT NULL,            -- the TOTP seed, sealed (bound to the name)
    totp_last_step BIGINT,                    -- highest step accepted: codes at or below it are replays
    created_at      BIGINT NOT NULL,
    last_login_at  BIGINT
);

CREATE TABLE admin_sessions (
    token_hash TEXT PRIMARY KEY,              -- SHA-256 of the cookie's token
    admin_name TEXT NOT NULL REFERENCES admins (name) ON DELETE CASCADE,
    client_ip  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX admin_sessions_by_admin ON admin_sessions (admin_name);
