-- tus uploads: a lease so one PATCH at a time writes an upload, across nodes.
-- A holder that died leaves a lease that simply runs out.
ALTER TABLE uploads ADD COLUMN lock_owner TEXT;
ALTER TABLE uploads ADD COLUMN lock_expires_at BIGINT;
CREATE INDEX uploads_expiry ON uploads (completed_at, expires_at);
CREATE INDEX videos_owner ON videos (owner_id);
