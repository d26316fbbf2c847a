-- `waitFor` in scripts: when each wait of a script step began and when it runs out,
-- so that the script, run again after it was woken, finds the same wait.
CREATE TABLE script_waits (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    step_index INTEGER NOT NULL,
    call_index INTEGER NOT NULL, -- the nth waitFor of the step
    since      INTEGER NOT NULL,
    deadline   INTEGER NOT NULL,
    PRIMARY KEY (run_id, step_index, call_index)
);
