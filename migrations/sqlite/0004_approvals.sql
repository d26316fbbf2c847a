-- Approvals: a step (or a script's approvals.request) that waits for people to decide.
-- The run waits (status 'waiting') without a worker; a decision, or the deadline,
-- puts it back in the queue.
CREATE TABLE approvals (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id            INTEGER NOT NULL REFERENCES runs (id),
    step_index        INTEGER NOT NULL,
    call_index        INTEGER NOT NULL,   -- 0 for the built-in step; the script's nth request
    automation_id     TEXT NOT NULL,
    team_id           TEXT NOT NULL,
    conversation_id   INTEGER,
    requester         TEXT,               -- who asked; may not approve unless allowed
    title             TEXT NOT NULL,
    body              TEXT NOT NULL,
    approvers         TEXT NOT NULL,      -- JSON: user ids allowed to decide
    approver_spec     TEXT NOT NULL,      -- JSON: as written (users, groups, channels)
    quorum            INTEGER NOT NULL,
    allow_self        INTEGER NOT NULL,   -- 0 or 1
    first_deny_wins   INTEGER NOT NULL,   -- 0 or 1
    reason_mode       TEXT NOT NULL,      -- none | optional | required
    status            TEXT NOT NULL,      -- opening | pending | approved | denied | expired
    messages          TEXT NOT NULL DEFAULT '[]',  -- JSON: [{channel, ts}] posted requests
    deadline          INTEGER,
    remind_at         INTEGER,
    reminded_at       INTEGER,
    decided_by        TEXT,
    decision_reason   TEXT,
    decided_at        INTEGER,
    finalized_at      INTEGER,            -- messages updated and thread told
    created_at        INTEGER NOT NULL,
    UNIQUE (run_id, step_index, call_index)
);
CREATE INDEX approvals_status ON approvals (status, deadline);

-- Every click that counted: one per approver and request.
CREATE TABLE approval_votes (
    approval_id INTEGER NOT NULL REFERENCES approvals (id),
    user_id     TEXT NOT NULL,
    decision    TEXT NOT NULL,            -- approve | deny
    reason      TEXT,
    voted_at    INTEGER NOT NULL,
    PRIMARY KEY (approval_id, user_id)
);

-- A script that waits for an approval: the results of its host calls up to the wait,
-- sealed with the secrets key (responses may carry sensitive data), replayed when the
-- script runs again after the decision.
CREATE TABLE script_journals (
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step_index  INTEGER NOT NULL,
    ciphertext  BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    wrapped_key BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_index)
);
