-- Retention deletes message copies by age, oldest first, a batch at a time.
CREATE INDEX messages_created ON messages (created_at);
