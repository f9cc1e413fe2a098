-- Identity and playback additions. Portable SQL (SQLite and PostgreSQL).

-- Seconds of media per content key of the session's video, fixed when the
-- session starts: key pacing refills one key per crypto period.
ALTER TABLE playback_sessions ADD COLUMN crypto_period_ms BIGINT;
CREATE INDEX playback_sessions_live ON playback_sessions (ended_at, expires_at);

-- Audit pagination walks seq downwards; seq is unique across nodes.
CREATE UNIQUE INDEX audit_log_seq ON audit_log (seq);
CREATE INDEX audit_log_session ON audit_log (session_id);
