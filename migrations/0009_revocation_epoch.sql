-- The revocation bus's fallback: one counter, bumped after every write that
-- takes access away (a session ended, a user disabled, an enrollment
-- removed, a video revoked or deleted). Every node polls it a few times a
-- second, so a node whose notification channel dropped still learns of a
-- revocation, and knows when it has stopped hearing (then it fails closed).
CREATE TABLE revocation_epoch (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    epoch      BIGINT NOT NULL,
    changed_at BIGINT NOT NULL
);
INSERT INTO revocation_epoch (id, epoch, changed_at) VALUES (1, 0, 0);
