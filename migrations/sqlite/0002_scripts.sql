-- TypeScript actions: a version of an automation includes the scripts it runs, so a run
-- queued before an edit executes the script as it was (file name → source, JSON).
ALTER TABLE automation_versions ADD COLUMN scripts TEXT NOT NULL DEFAULT '{}';

-- Runs with script steps queue in their own lane, served by as many claimers as there
-- are sandbox processes, so scripts waiting for a sandbox never hold up the others.
ALTER TABLE runs ADD COLUMN lane TEXT NOT NULL DEFAULT 'default';
DROP INDEX runs_ready;
CREATE INDEX runs_ready ON runs (status, lane, run_after);
