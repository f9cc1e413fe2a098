-- Server-verified viewing progress.
--
-- `playback_deliveries`: the segments each playback session was actually
-- sent (whole, status 200), written in batches from each node's in-memory
-- buffer. `playback_heartbeats`: each session's last reported position, the
-- start of the next credited range. `video_progress`: per learner and video,
-- the resume position and the watched ranges (JSON `[[start_ms, end_ms], …]`,
-- sorted, disjoint) credited only where a heartbeat range was covered by
-- delivered segments; `completed_at` is set once, when watched reaches 90 %.
CREATE TABLE playback_deliveries (
    session_id TEXT NOT NULL REFERENCES playback_sessions (id) ON DELETE CASCADE,
    rung       TEXT NOT NULL,
    segment    TEXT NOT NULL,
    PRIMARY KEY (session_id, rung, segment)
);

CREATE TABLE playback_heartbeats (
    session_id  TEXT PRIMARY KEY REFERENCES playback_sessions (id) ON DELETE CASCADE,
    position_ms BIGINT NOT NULL,
    -- 1 while playing, 0 when paused.
    playing     BIGINT NOT NULL,
    at          BIGINT NOT NULL
);

CREATE TABLE video_progress (
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id       TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    position_ms    BIGINT NOT NULL,
    watched_ms     BIGINT NOT NULL,
    watched_ranges TEXT NOT NULL,
    completed_at   BIGINT,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (user_id, video_id)
);
CREATE INDEX video_progress_video ON video_progress (video_id);
