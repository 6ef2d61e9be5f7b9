-- Keep in step with ../postgres/0004_policy.sql: same tables, columns and constraints.
-- Policy: passwords and recovery codes (factors of clients), users (bypass), user groups,
-- host groups, rules, elevated sessions, and what a push completes.

-- A client's password: an argon2id PHC string; NULL: none set.
ALTER TABLE clients ADD COLUMN password_hash TEXT;
ALTER TABLE clients ADD COLUMN password_changed_at INTEGER;

-- Single-use recovery codes: SHA-256 of each. Using one is one DELETE, so it works once.
CREATE TABLE recovery_codes (
    client_alias TEXT NOT NULL REFERENCES clients (alias) ON DELETE CASCADE,
    code_hash    TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (client_alias, code_hash)
);

-- Login users with a setting of their own (apps name users too, without a row here).
CREATE TABLE users (
    name       TEXT PRIMARY KEY,
    bypass     INTEGER NOT NULL DEFAULT 0,   -- 1: an automation account, never asked for MFA
    created_at INTEGER NOT NULL
);

CREATE TABLE user_groups (
    name       TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

CREATE TABLE group_members (
    group_name TEXT NOT NULL REFERENCES user_groups (name) ON DELETE CASCADE,
    user_name  TEXT NOT NULL,
    PRIMARY KEY (group_name, user_name)
);
CREATE INDEX group_members_by_user ON group_members (user_name);

CREATE TABLE host_groups (
    name       TEXT PRIMARY KEY,
    hosts      TEXT NOT NULL,                -- comma-separated host patterns
    created_at INTEGER NOT NULL
);

-- Who needs what where. NULL fields match anything. A group a rule names cannot be removed
-- (no cascade: silently dropping a rule would weaken the policy).
CREATE TABLE policy_rules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    rule_key    TEXT NOT NULL UNIQUE,        -- the match fields, canonical: one rule per place
    user_name   TEXT,
    group_name  TEXT REFERENCES user_groups (name),
    host        TEXT,
    host_group  TEXT REFERENCES host_groups (name),
    service     TEXT,
    action      TEXT,
    requirement TEXT NOT NULL,               -- none | any | factors, e.g. password,totp
    created_at  INTEGER NOT NULL
);

-- An MFA remembered for (user, source address, scope) until expires_at. Every use reads this
-- table, so deleting a row (mfac session revoke) ends the session at once.
CREATE TABLE elevated_sessions (
    id          TEXT PRIMARY KEY,
    user_name   TEXT NOT NULL,
    client_ip   TEXT NOT NULL,               -- '' for a login without an address (local)
    scope       TEXT NOT NULL,               -- login:SERVICE@HOST, action:ACTION[@HOST]
    factors     TEXT NOT NULL,               -- what was verified, e.g. password,totp
    server_name TEXT,
    txid        TEXT,                        -- the push that made it, if one did
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX elevated_sessions_lookup ON elevated_sessions (user_name, client_ip, scope);
CREATE INDEX elevated_sessions_by_txid ON elevated_sessions (txid);

-- What an approved push completes: the factors verified with it (e.g. password,push) and the
-- elevated session to make on approval.
ALTER TABLE auth_requests ADD COLUMN factors TEXT;
ALTER TABLE auth_requests ADD COLUMN scope TEXT;
ALTER TABLE auth_requests ADD COLUMN remember_secs INTEGER;
