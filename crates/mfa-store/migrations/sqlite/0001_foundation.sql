-- Keep in step with ../postgres/0001_foundation.sql: same tables, columns and constraints.
-- Times are Unix milliseconds; booleans are 0/1 integers (portable across both backends).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE clients (
    alias          TEXT PRIMARY KEY,
    key_hash       TEXT NOT NULL UNIQUE,   -- SHA-256 of the client key; the key itself is never stored
    totp_sealed    BLOB NOT NULL,          -- the TOTP seed, sealed (XChaCha20-Poly1305)
    totp_algorithm TEXT NOT NULL,
    totp_digits    INTEGER NOT NULL,
    totp_period    INTEGER NOT NULL,
    totp_last_step INTEGER,                -- highest TOTP step accepted: codes at or below it are replays
    created_at     INTEGER NOT NULL
);

CREATE TABLE apps (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,  -- AUTOINCREMENT: a removed app's id is never reused
    user_name  TEXT NOT NULL,
    host       TEXT NOT NULL,
    service    TEXT NOT NULL,
    methods    TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (user_name, host, service)
);

CREATE TABLE app_clients (
    app_id       INTEGER NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
    client_alias TEXT NOT NULL REFERENCES clients (alias),  -- a client in use cannot be removed
    PRIMARY KEY (app_id, client_alias)
);
CREATE INDEX app_clients_by_client ON app_clients (client_alias);
CREATE INDEX apps_by_user ON apps (user_name);
