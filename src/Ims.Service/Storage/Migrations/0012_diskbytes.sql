-- Disks hold bytes, service side: what a disk is restored from, volume files waiting to be removed, and a durable
-- request for a garbage collection of the chunk store.

-- The manifest a volume is being restored from (a new server's disks from its image or whole image's backup, a system
-- disk from the image a change of OS puts on it). Set with the request, cleared when the restore is committed or its
-- job fails; while set it keeps the manifest alive, so an image deleted meanwhile cannot lose the chunks being read.
ALTER TABLE volumes ADD COLUMN source_manifest_id TEXT;

-- Volumes deleted from the database whose files are still on disk; the data janitor removes the file, then the row.
CREATE TABLE volume_files_doomed (
    volume_id TEXT PRIMARY KEY,
    doomed_at BIGINT NOT NULL
);

-- At most one row: a collection is wanted. Each request bumps the generation; a collection clears only the generation
-- it saw, so a request made while it runs is not lost.
CREATE TABLE data_gc_pending (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL
);
