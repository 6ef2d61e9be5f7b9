-- Keep in step with ../postgres/0012_passkeys.sql.
-- Passkeys (issue 15): a client registers passkeys through a single-use link (`mfac client
-- passkey-link ALIAS`, or the enrolment page's button). A passkey is a public key: stored as
-- webauthn-rs serialises it (JSON), by its credential id.

-- The WebAuthn user handle of the client (random, no personal data); NULL until its first passkey.
ALTER TABLE clients ADD COLUMN webauthn_user TEXT;

CREATE TABLE passkeys (
    credential_id TEXT PRIMARY KEY,           -- base64url, as the authenticator made it
    client_alias  TEXT NOT NULL REFERENCES clients (alias) ON DELETE CASCADE,
    name          TEXT NOT NULL,              -- what the person called it ("phone")
    passkey       TEXT NOT NULL,              -- the public key and its counter (webauthn-rs JSON)
    created_at    INTEGER NOT NULL,
    last_used_at  INTEGER
);
CREATE INDEX passkeys_by_client ON passkeys (client_alias);

CREATE TABLE passkey_links (
    token_hash   TEXT PRIMARY KEY,            -- SHA-256 of the link's token
    client_alias TEXT NOT NULL REFERENCES clients (alias) ON DELETE CASCADE,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER                      -- when a passkey was registered through it
);

-- A WebAuthn ceremony between its two requests: the challenge webauthn-rs must check the
-- answer against. Taken (deleted) by the answer, so each challenge is answered once.
CREATE TABLE passkey_ceremonies (
    id           TEXT PRIMARY KEY,            -- random, handed to the browser
    client_alias TEXT NOT NULL REFERENCES clients (alias) ON DELETE CASCADE,
    purpose      TEXT NOT NULL,               -- what it is for: 'register:<link hash>'
    state        TEXT NOT NULL,               -- webauthn-rs JSON
    expires_at   INTEGER NOT NULL
);
