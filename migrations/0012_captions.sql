-- Caption tracks of a video: one WebVTT object per language, stored next to
-- the video's HLS output (never under the raw upload). The object's key
-- carries a revision, so a replaced track never serves a half-written file
-- and the old object is removed once the row points at the new one.
CREATE TABLE captions (
    video_id    TEXT NOT NULL REFERENCES videos (id) ON DELETE CASCADE,
    -- A BCP 47 tag in its normalized case, e.g. `en`, `pt-BR`.
    lang        TEXT NOT NULL,
    label       TEXT NOT NULL,
    object_key  TEXT NOT NULL,
    cue_count   BIGINT NOT NULL,
    size_bytes  BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (video_id, lang)
);
