-- Keep in step with ../postgres/0002_push.sql.

-- Trusted servers (integrations): hosts allowed to ask for MFA, each with its own token.
CREATE TABLE servers (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,   -- SHA-256 of the API token
    hosts      TEXT NOT NULL,          -- comma-separated host patterns it may speak for
    created_at INTEGER NOT NULL
);

-- Auth requests (transactions). A decision is one conditional UPDATE on state = 'pending'.
CREATE TABLE auth_requests (
    txid        TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    host        TEXT NOT NULL,
    service     TEXT NOT NULL,
    client_ip   TEXT,
    server_name TEXT NOT NULL,
    app_id      INTEGER NOT NULL,
    clients     TEXT NOT NULL,          -- comma-separated aliases the push went to
    number      INTEGER,                -- number to match, when number matching is on
    state       TEXT NOT NULL,          -- pending | approved | denied | expired
    reason      TEXT,
    decided_by  TEXT,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    decided_at  INTEGER
);
CREATE INDEX auth_requests_pending ON auth_requests (state, expires_at);

-- Single-use approve tokens (web link, ntfy actions): one per request and client, hashed.
CREATE TABLE approve_tokens (
    token_hash   TEXT PRIMARY KEY,
    txid         TEXT NOT NULL REFERENCES auth_requests (txid) ON DELETE CASCADE,
    client_alias TEXT NOT NULL
);
CREATE INDEX approve_tokens_by_txid ON approve_tokens (txid);

-- Failure counters and lockouts per user or source IP. locked_until 0 = not locked.
CREATE TABLE lockouts (
    kind             TEXT NOT NULL,     -- user | ip
    subject          TEXT NOT NULL,
    failures         INTEGER NOT NULL,
    first_failure_at INTEGER NOT NULL,
    locked_until     INTEGER NOT NULL,
    reason           TEXT NOT NULL,
    PRIMARY KEY (kind, subject)
);

CREATE TABLE audit (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    at           INTEGER NOT NULL,
    user_name    TEXT NOT NULL,
    host         TEXT,
    service      TEXT,
    client_ip    TEXT,
    method       TEXT,
    result       TEXT NOT NULL,
    reason       TEXT,
    server_name  TEXT,
    client_alias TEXT,
    txid         TEXT
);
CREATE INDEX audit_by_user ON audit (user_name, at);
CREATE INDEX audit_by_time ON audit (at);

-- How a client hears of a push besides its WebSocket: NULL = the config's default provider.
ALTER TABLE clients ADD COLUMN notify TEXT;
ALTER TABLE clients ADD COLUMN ntfy_topic TEXT;
