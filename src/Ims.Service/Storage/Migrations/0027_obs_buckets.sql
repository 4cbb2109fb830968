-- The service's own object storage (the OBS/S3 bucket API): buckets of an account, their objects, and multipart uploads
-- in progress with their parts. The bytes are files of the data folder (file_id names one); these rows say which.
CREATE TABLE obs_buckets (
    name        TEXT NOT NULL PRIMARY KEY,
    domain_id   TEXT NOT NULL,
    region      TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE INDEX obs_buckets_domain ON obs_buckets (domain_id, name);

CREATE TABLE obs_objects (
    bucket       TEXT NOT NULL,
    -- The key's UTF-8 bytes in lowercase hex: listings order and page by it, which is S3's byte order under any
    -- collation (PostgreSQL's database collation would otherwise decide the order of TEXT keys).
    key_hex      TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    size         BIGINT NOT NULL,
    etag         TEXT NOT NULL,
    content_type TEXT NOT NULL,
    -- The user metadata (x-amz-meta-*/x-obs-meta-*) as a JSON object.
    metadata     TEXT NOT NULL,
    file_id      TEXT NOT NULL,
    modified_at  BIGINT NOT NULL,
    PRIMARY KEY (bucket, key_hex)
);

CREATE TABLE obs_uploads (
    upload_id    TEXT NOT NULL PRIMARY KEY,
    bucket       TEXT NOT NULL,
    object_key   TEXT NOT NULL,
    content_type TEXT NOT NULL,
    metadata     TEXT NOT NULL,
    initiated_at BIGINT NOT NULL
);

CREATE INDEX obs_uploads_bucket ON obs_uploads (bucket, object_key);

CREATE TABLE obs_parts (
    upload_id   TEXT NOT NULL,
    part_number BIGINT NOT NULL,
    size        BIGINT NOT NULL,
    etag        TEXT NOT NULL,
    file_id     TEXT NOT NULL,
    modified_at BIGINT NOT NULL,
    PRIMARY KEY (upload_id, part_number)
);
