-- Keep in step with ../postgres/0010_enrol_links.sql.
-- Self-service enrolment (issue 15): `mfac client add ALIAS --link` / `mfac client enrol-link`
-- make a single-use link; its page shows a new TOTP seed as a QR code and makes it the
-- client's only once the person types a current code from it.

-- 0: the client's TOTP is not in force (a client made with --link, before its page's code):
-- no code is accepted and no `mfa enroll` receives the seed.
ALTER TABLE clients ADD COLUMN totp_active INTEGER NOT NULL DEFAULT 1 CHECK (totp_active IN (0, 1));

CREATE TABLE enrol_links (
    token_hash   TEXT PRIMARY KEY,           -- SHA-256 of the link's token; the token is never stored
    client_alias TEXT NOT NULL REFERENCES clients (alias) ON DELETE CASCADE,
    totp_sealed  BLOB NOT NULL,              -- the seed the page shows, sealed (bound to the token hash)
    attempts     INTEGER NOT NULL DEFAULT 0, -- codes typed on the page; counted before each is compared
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    used_at      INTEGER                     -- when its code was confirmed; NULL: not yet
);
CREATE INDEX enrol_links_by_client ON enrol_links (client_alias);
