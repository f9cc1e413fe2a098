-- Rate limits that hold across nodes (login attempts per address and per
-- account): one GCRA cell per key, the "theoretical arrival time" in unix
-- milliseconds, updated by one atomic upsert. A row whose tat has passed
-- is a full bucket and may be deleted at any time.
CREATE TABLE rate_limits (
    key     TEXT PRIMARY KEY,
    tat     BIGINT NOT NULL,
    allowed BIGINT NOT NULL
);
CREATE INDEX rate_limits_tat ON rate_limits (tat);
