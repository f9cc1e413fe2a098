-- What a user chose once and expects remembered wherever they sign in: for
-- now the playback speed, in hundredths (50 to 200) so that both dialects
-- store an exact integer. No row means the defaults.
CREATE TABLE user_preferences (
    user_id           TEXT PRIMARY KEY REFERENCES users(id),
    playback_rate_pct BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
