-- Secrets, envelope-encrypted: the value under its own data key (AES-256-GCM), the data
-- key wrapped by the key-encryption key named in key_id. Never plaintext.
-- workspace is a team id, or '*' for every workspace of this deployment.
CREATE TABLE secrets (
    workspace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     BIGINT NOT NULL,
    ciphertext  BYTEA NOT NULL,
    nonce       BYTEA NOT NULL,
    wrapped_key BYTEA NOT NULL,
    key_id      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (workspace, name, version)
);

-- The scripts' key-value store: JSON values by (workspace, namespace, key).
-- namespace is `automation:<id>` or `shared:<name>`; version counts writes, for
-- compare-and-set and increments without locks.
CREATE TABLE kv (
    workspace  TEXT NOT NULL,
    namespace  TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    version    BIGINT NOT NULL,
    expires_at BIGINT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (workspace, namespace, key)
);
CREATE INDEX kv_expires ON kv (expires_at);
