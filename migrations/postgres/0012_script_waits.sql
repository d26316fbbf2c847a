-- `waitFor` in scripts: when each wait of a script step began and when it runs out,
-- so that the script, run again after it was woken, finds the same wait.
CREATE TABLE script_waits (
    run_id     BIGINT NOT NULL REFERENCES runs (id),
    step_index BIGINT NOT NULL,
    call_index BIGINT NOT NULL, -- the nth waitFor of the step
    since      BIGINT NOT NULL,
    deadline   BIGINT NOT NULL,
    PRIMARY KEY (run_id, step_index, call_index)
);
