-- Disks hold bytes: backups and images name the data plane's manifests.

-- The manifest of each captured disk (null until the capture step has stored it).
ALTER TABLE backup_volumes ADD COLUMN manifest_id TEXT;
-- The content of a system-disk image (a seeded public image, or an uploaded raw/qcow2 file); null while it has none.
ALTER TABLE images ADD COLUMN manifest_id TEXT;
CREATE INDEX backup_volumes_manifest ON backup_volumes (manifest_id);
CREATE INDEX images_manifest ON images (manifest_id);
