-- The doors that start one named automation: webhook URLs and schedules.

-- One unguessable token per webhook automation; its URL is /hooks/<token>. Looked up
-- by the token's SHA-256, so no comparison of the token itself depends on a guess.
CREATE TABLE webhook_tokens (
    automation_id TEXT PRIMARY KEY,
    token         TEXT NOT NULL,          -- shown by `switchboard automations show`
    token_hash    TEXT NOT NULL UNIQUE,   -- hex SHA-256 of the token
    created_at    INTEGER NOT NULL
);

-- Each schedule tick that was run, so a tick runs once across replicas and restarts.
CREATE TABLE schedule_ticks (
    automation_id TEXT NOT NULL,
    tick          INTEGER NOT NULL,       -- the tick's time, ms since the epoch
    run_id        INTEGER,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (automation_id, tick)
);
