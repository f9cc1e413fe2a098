-- Webhooks: endpoints an admin registered, and the outbox of deliveries.
-- A delivery row is written in the same transaction as the change it
-- announces, so an event is never lost between the commit and the send; the
-- dispatcher claims due rows by pushing `next_attempt_at` past its attempt
-- (a node that dies mid-send leaves the row due again), and gives up once
-- the retry window that began at `retry_from` (creation, or a manual retry)
-- has passed (status `failed`: the dead letter, visible in the API).
CREATE TABLE webhook_endpoints (
    id            TEXT PRIMARY KEY,
    url           TEXT NOT NULL,
    -- JSON list of event names.
    events        TEXT NOT NULL,
    -- The signing secret, sealed under the keyring's key (never returned).
    sealed_secret TEXT NOT NULL,
    created_by    TEXT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               TEXT PRIMARY KEY,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event            TEXT NOT NULL,
    -- The exact body sent (and signed) on every attempt.
    payload          TEXT NOT NULL,
    -- pending, delivered or failed.
    status           TEXT NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    retry_from       BIGINT NOT NULL,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    last_error       TEXT,
    delivered_at     BIGINT,
    created_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, created_at);
