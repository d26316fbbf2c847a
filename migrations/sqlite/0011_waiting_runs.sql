-- Runs waiting on a conversation: when the conversation moves, the ingest wakes the
-- ones whose `wait` has an `until` (a reply, a status), through this index.
CREATE INDEX runs_waiting_conversation ON runs (conversation_id) WHERE status = 'waiting';
