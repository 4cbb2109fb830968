-- The uploaded file of an image whose disk was converted on upload (qcow2), kept byte for byte so that
-- GET /v2/images/{id}/file answers the file that was uploaded, as Glance does. Stored in the data plane like a disk
-- (padded to whole sectors; images.size is its real length). Null for raw uploads, whose disk is the file.
ALTER TABLE images ADD COLUMN file_manifest_id TEXT;
