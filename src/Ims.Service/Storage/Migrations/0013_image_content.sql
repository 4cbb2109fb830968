-- Images with content of their own (an uploaded raw or qcow2 file): what Glance reports of the uploaded file.

-- MD5 of the uploaded bytes, 32 lowercase hex; null while the image has no file (rendered as the MD5 of nothing).
ALTER TABLE images ADD COLUMN checksum TEXT;
-- The disk's size in bytes as the file describes it (a qcow2's virtual size, a raw file's length); null while unknown.
ALTER TABLE images ADD COLUMN virtual_size BIGINT;
