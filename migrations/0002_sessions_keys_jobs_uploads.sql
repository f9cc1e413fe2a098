-- Shared tables for identity, playback, custody, the job queue and uploads.
-- Portable SQL (SQLite and PostgreSQL): TEXT ids, BIGINT unix-millisecond times.

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    family_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

-- A learner watching a video. Live while ended_at IS NULL and expires_at is in the future.
CREATE TABLE playback_sessions (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id     TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    ended_at     BIGINT,
    end_reason   TEXT,
    ip           TEXT,
    user_agent   TEXT,
    cookie_hash  TEXT
);
CREATE INDEX playback_sessions_user ON playback_sessions (user_id, created_at);
CREATE INDEX playback_sessions_video ON playback_sessions (video_id);

-- Content keys, only ever sealed to the key server's X25519 master key.
CREATE TABLE content_keys (
    video_id           TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    key_id             TEXT NOT NULL,
    sealed             TEXT NOT NULL,
    master_fingerprint TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    PRIMARY KEY (video_id, key_id)
);

CREATE TABLE audit_log (
    seq         BIGINT NOT NULL,
    id          TEXT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor_id    TEXT,
    action      TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    session_id  TEXT,
    video_id    TEXT,
    key_id      TEXT,
    ip          TEXT,
    detail      TEXT
);
CREATE INDEX audit_log_at ON audit_log (at, seq);

-- The durable transcode queue: queued -> processing -> done | failed.
CREATE TABLE transcode_jobs (
    id               TEXT PRIMARY KEY,
    video_id         TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    status           TEXT NOT NULL CHECK (status IN ('queued', 'processing', 'done', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL DEFAULT 4,
    run_after        BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    error            TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX transcode_jobs_ready ON transcode_jobs (status, run_after);

-- tus uploads in progress; the upload id is the video id.
CREATE TABLE uploads (
    video_id            TEXT PRIMARY KEY REFERENCES videos (id) ON DELETE CASCADE,
    owner_id            TEXT NOT NULL REFERENCES users (id),
    length              BIGINT NOT NULL,
    offset_bytes        BIGINT NOT NULL DEFAULT 0,
    metadata            TEXT,
    storage_key         TEXT NOT NULL,
    multipart_upload_id TEXT,
    parts               TEXT,
    expires_at          BIGINT NOT NULL,
    completed_at        BIGINT,
    created_at          BIGINT NOT NULL,
    updated_at          BIGINT NOT NULL
);
