-- Single-use tickets that let a browser's EventSource (which cannot send
-- headers) open a video's event stream without putting an access token in
-- a URL. Stored as SHA-256 only; spent on first use; short-lived.
CREATE TABLE stream_tickets (
    ticket_hash TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    video_id    TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);
CREATE INDEX stream_tickets_expiry ON stream_tickets (expires_at);
