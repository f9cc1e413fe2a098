-- Portable SQL (SQLite and PostgreSQL): TEXT ids, BIGINT unix-millisecond times.

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'creator', 'learner')),
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL
);

CREATE TABLE courses (
    id         TEXT PRIMARY KEY,
    title      TEXT NOT NULL,
    owner_id   TEXT NOT NULL REFERENCES users (id),
    created_at BIGINT NOT NULL
);
CREATE INDEX courses_owner ON courses (owner_id);

CREATE TABLE enrollments (
    course_id  TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (course_id, user_id)
);
CREATE INDEX enrollments_user ON enrollments (user_id);

CREATE TABLE videos (
    id               TEXT PRIMARY KEY,
    course_id        TEXT NOT NULL REFERENCES courses (id) ON DELETE CASCADE,
    owner_id         TEXT NOT NULL REFERENCES users (id),
    title            TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('uploading', 'queued', 'processing', 'ready', 'failed')),
    progress         BIGINT NOT NULL DEFAULT 0,
    error            TEXT,
    duration_ms      BIGINT,
    renditions       TEXT,
    size_bytes       BIGINT NOT NULL DEFAULT 0,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX videos_course ON videos (course_id);
