-- Users of the external issuer live in their own namespace: (issuer, subject)
-- names one local user, never a local account's id. Portable SQL (SQLite and PostgreSQL).
CREATE TABLE external_identities (
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    user_id    TEXT NOT NULL UNIQUE REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (issuer, subject)
);
