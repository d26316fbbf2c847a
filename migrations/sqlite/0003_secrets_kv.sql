-- Secrets, envelope-encrypted: the value under its own data key (AES-256-GCM), the data
-- key wrapped by the key-encryption key named in key_id. Never plaintext.
-- workspace is a team id, or '*' for every workspace of this deployment.
CREATE TABLE secrets (
    workspace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    version     INTEGER NOT NULL,
    ciphertext  BLOB NOT NULL,
    nonce       BLOB NOT NULL,
    wrapped_key BLOB NOT NULL,
    key_id      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
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
    version    INTEGER NOT NULL,
    expires_at INTEGER,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (workspace, namespace, key)
);
CREATE INDEX kv_expires ON kv (expires_at);
