-- Timers: one deadline per (conversation, name). A silence that an automation waits
-- for (`no_response`, `no_reply`, `idle`) is named `silence:<automation id>`.
-- The poller reads the due ones through timers_due, so its cost follows the timers
-- that are due, not the number of open conversations.
CREATE TABLE timers (
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    name            TEXT NOT NULL,
    since           INTEGER NOT NULL, -- when the clock started (ms): part of the run's event id
    due_at          INTEGER,          -- NULL once fired: the silence lasts until the awaited message
    PRIMARY KEY (conversation_id, name)
);
CREATE INDEX timers_due ON timers (due_at) WHERE due_at IS NOT NULL;
