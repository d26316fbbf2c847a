-- Which version of each automation is in force, and since when. A schedule counts its
-- ticks from the moment its current version came into force, so switching a schedule
-- off and back on (or reverting an edit, which brings back an old version number)
-- waits for the next tick instead of running the ones that passed meanwhile.
CREATE TABLE automations_in_force (
    automation_id TEXT PRIMARY KEY,
    version       INTEGER NOT NULL,
    since         INTEGER NOT NULL        -- ms since the epoch
);
