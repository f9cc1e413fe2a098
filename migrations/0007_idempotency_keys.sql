-- Idempotency-Key: the first answer to a POST, kept 24 h per caller and key,
-- so a course platform's retry gets that answer instead of a second write.
-- `status` is NULL while the first request is still running.
CREATE TABLE idempotency_keys (
    scope        TEXT NOT NULL,
    idem_key     TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status       BIGINT,
    content_type TEXT,
    location     TEXT,
    body         TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (scope, idem_key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);
