-- The event pipeline: events, conversations, automation versions, runs.
-- Timestamps are milliseconds since the Unix epoch (UTC); JSON is stored as text.
-- migrations/postgres/0001_pipeline.sql is the same schema in PostgreSQL's dialect.

-- Slack event ids already ingested: a redelivery (X-Slack-Retry-Num, concurrent
-- duplicates, several replicas) stops at this primary key.
CREATE TABLE events (
    event_id    TEXT PRIMARY KEY,
    team_id     TEXT NOT NULL,
    kind        TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX events_received_at ON events (received_at);

-- What auth.test says about the workspace: its URL makes permalinks without API calls.
CREATE TABLE workspaces (
    team_id     TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    url         TEXT NOT NULL,
    bot_user_id TEXT NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One support thread: the ticket.
CREATE TABLE conversations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    team_id     TEXT NOT NULL,
    channel_id  TEXT NOT NULL,
    thread_ts   TEXT NOT NULL,
    requester   TEXT NOT NULL,
    customer    TEXT,
    title       TEXT NOT NULL,
    status      TEXT NOT NULL,
    priority    TEXT NOT NULL,
    ticket_type TEXT NOT NULL,
    assignee    TEXT,
    tags        TEXT NOT NULL DEFAULT '[]', -- JSON array of strings, sorted
    permalink   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    UNIQUE (channel_id, thread_ts)
);

-- Every message of a conversation, the first one included; reactions find their
-- conversation through (channel_id, ts).
CREATE TABLE messages (
    channel_id      TEXT NOT NULL,
    ts              TEXT NOT NULL,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    user_id         TEXT NOT NULL,
    text            TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (channel_id, ts)
);
CREATE INDEX messages_conversation ON messages (conversation_id);

-- Field history: who or what changed which field from what to what.
CREATE TABLE conversation_changes (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id INTEGER NOT NULL REFERENCES conversations (id),
    field           TEXT NOT NULL,
    before_value    TEXT NOT NULL, -- JSON
    after_value     TEXT NOT NULL, -- JSON
    cause           TEXT NOT NULL, -- event id, or run:<id>/step:<n>
    actor           TEXT,
    changed_at      INTEGER NOT NULL
);
CREATE INDEX conversation_changes_conversation ON conversation_changes (conversation_id);

-- Each distinct content of an automation file is a version; runs record theirs.
CREATE TABLE automation_versions (
    automation_id TEXT NOT NULL,
    version       INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    source        TEXT NOT NULL,
    path          TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (automation_id, version),
    UNIQUE (automation_id, content_hash)
);

-- The durable run queue. status: queued → running → succeeded | failed, with
-- running → queued for retries and expired leases, and waiting for runs that pause.
CREATE TABLE runs (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    automation_id      TEXT NOT NULL,
    automation_version INTEGER NOT NULL,
    event_id           TEXT NOT NULL,
    trigger_kind       TEXT NOT NULL,
    trigger_json       TEXT NOT NULL,
    conversation_id    INTEGER REFERENCES conversations (id),
    depth              INTEGER NOT NULL,
    status             TEXT NOT NULL,
    attempt            INTEGER NOT NULL DEFAULT 0,
    run_after          INTEGER NOT NULL,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    waiting_for        TEXT,
    wait_deadline      INTEGER,
    error              TEXT,
    created_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    -- At most one run per (event, automation), across retries and replicas.
    UNIQUE (event_id, automation_id)
);
CREATE INDEX runs_ready ON runs (status, run_after);
CREATE INDEX runs_created ON runs (created_at);

-- The step journal: a finished step is never executed again.
CREATE TABLE run_steps (
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_index  INTEGER NOT NULL,
    action      TEXT NOT NULL,
    status      TEXT NOT NULL, -- succeeded | failed
    output      TEXT,          -- JSON
    error       TEXT,
    attempts    INTEGER NOT NULL,
    started_at  INTEGER NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_index)
);

-- What happened to a run, line by line, for `switchboard runs show`.
CREATE TABLE run_log (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id  INTEGER NOT NULL REFERENCES runs (id),
    at      INTEGER NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX run_log_run ON run_log (run_id, id);
