-- Whole images.

-- A backup yields at most one live full-ECS image, also under concurrent requests: the database decides.
CREATE UNIQUE INDEX images_one_per_backup ON images (backup_id)
    WHERE whole_image = 1 AND status IN ('queued', 'saving', 'active');

-- A Windows source whose SAN policy was not OnlineAll: servers made from the image get offline data disks.
ALTER TABLE images ADD COLUMN data_disks_offline BIGINT NOT NULL DEFAULT 0;
-- The source server (mode A) and whether the job made the backup itself (deleted again if the job fails).
ALTER TABLE images ADD COLUMN source_server_id TEXT;
ALTER TABLE images ADD COLUMN backup_made_by_image BIGINT NOT NULL DEFAULT 0;

-- Listing a project's images newest first, as GET /v2/cloudimages does by default.
CREATE INDEX images_owner_created ON images (owner, created_at);
