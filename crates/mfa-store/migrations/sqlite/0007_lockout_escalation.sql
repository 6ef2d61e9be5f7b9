-- Keep in step with ../postgres/0007_lockout_escalation.sql.
-- Each lock that follows another within max_block_duration doubles (block_duration, twice
-- that, ... up to max_block_duration), so a guesser who waits out every lock gets a few guesses
-- a day instead of a few every block_duration. locks: how many came one after another; it
-- starts again at 1 once the last lock ended more than max_block_duration ago.
ALTER TABLE lockouts ADD COLUMN locks INTEGER NOT NULL DEFAULT 0;
