-- Keep in step with ../sqlite/0005_security.sql.
-- Security fixes (issue 9): exact client matching, revocation, withdrawn pushes, purging.

-- A client's pushes are found through its approve tokens (exact match, not LIKE).
CREATE INDEX approve_tokens_by_client ON approve_tokens (client_alias);

-- Until when a server is known to wait for the push (a status poll's wait): after a restart,
-- pushes whose login has gone are withdrawn instead of staying approvable.
ALTER TABLE auth_requests ADD COLUMN polled_until BIGINT;

-- Purging decided requests by age.
CREATE INDEX auth_requests_by_creation ON auth_requests (created_at);
CREATE INDEX elevated_sessions_by_expiry ON elevated_sessions (expires_at);
CREATE INDEX lockouts_by_first_failure ON lockouts (first_failure_at);

-- Bumped by every revocation (a client key rotated or removed, a server or API token rotated or
-- removed): each node watches it and re-checks the credentials of its open connections.
CREATE TABLE credential_epoch (
    id    BIGINT PRIMARY KEY CHECK (id = 1),
    epoch BIGINT NOT NULL
);
INSERT INTO credential_epoch (id, epoch) VALUES (1, 0);
