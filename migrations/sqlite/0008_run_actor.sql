-- Who caused a run (the reactor, the person who ran it by hand), so that a person's
-- own runs can be listed (the App Home tab) without reading every trigger.
ALTER TABLE runs ADD COLUMN actor TEXT;
CREATE INDEX runs_actor ON runs (actor, id);
