-- Webhook tokens are kept encrypted as secrets are (envelope encryption, bound to the
-- automation id): a webhook URL is a credential, and a copy of the database must not
-- be enough to call the webhooks. Lookups still go by token_hash. `token` is emptied
-- once a token is sealed (tokens made before this, the next time a server starts).
ALTER TABLE webhook_tokens ADD COLUMN ciphertext  BYTEA;
ALTER TABLE webhook_tokens ADD COLUMN nonce       BYTEA;
ALTER TABLE webhook_tokens ADD COLUMN wrapped_key BYTEA;
ALTER TABLE webhook_tokens ADD COLUMN key_id      TEXT;
