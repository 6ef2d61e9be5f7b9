-- Keep in step with ../sqlite/0009_duo_logins.sql.
-- What a push shows beyond user, host and service: for Duo's clients, their `pushinfo` (the
-- command, the server's address). Shown to the approver; NULL: nothing more.
ALTER TABLE auth_requests ADD COLUMN details TEXT;

-- The number a Duo preauth put in the login prompt, kept for the auth that follows: Duo's
-- clients carry nothing from one call to the next, so the login is found again by who asks
-- (integration, user, source address). One per login; a newer preauth replaces it.
CREATE TABLE duo_numbers (
    integration TEXT NOT NULL,
    user_name   TEXT NOT NULL,
    client_ip   TEXT NOT NULL,                 -- '' when the client sent no ipaddr
    number      BIGINT  NOT NULL CHECK (number BETWEEN 10 AND 99),
    expires_at  BIGINT  NOT NULL,
    PRIMARY KEY (integration, user_name, client_ip)
);
