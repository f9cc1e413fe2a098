-- Keys every node of a cluster shares, so `admin rotate-signing-key` and
-- `admin rotate-url-key` work against the database alone and running nodes
-- pick a rotation up without a restart. Secrets are sealed (AES-256-GCM, key
-- derived by HKDF-SHA256 from the URL-signing secret file every node shares):
-- this table alone never yields a key. `retired_at` is NULL while a key signs;
-- a retired key verifies until what it signed has expired, then is deleted.
CREATE TABLE signing_keys (
    kid        TEXT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    sealed_key TEXT NOT NULL
);
-- URL-signing secret versions (`kv=` in signed URLs). No row means version 0,
-- the secret file itself, signs; its row, once rotated, has no sealed_key.
CREATE TABLE url_keys (
    version    BIGINT PRIMARY KEY,
    created_at BIGINT NOT NULL,
    retired_at BIGINT,
    sealed_key TEXT
);
