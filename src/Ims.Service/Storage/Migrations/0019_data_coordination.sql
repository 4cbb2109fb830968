-- What the data plane's garbage collector shares with the captures, imports and restores of every node using the same
-- chunk store (see Data/DataCoordinationStore.cs). Times are epoch milliseconds.

-- Running operations (kind 'operation': their start bounds a folder collection's cutoff), undisposed manifest leases
-- ('lease') and chunk writers ('writer': captures and imports storing or looking up chunks). A node renews its holds
-- while it runs; a hold whose expires_at has passed belongs to a node that stopped, and counts for nothing.
CREATE TABLE data_holds (
    id         TEXT NOT NULL PRIMARY KEY,
    node       TEXT NOT NULL,
    kind       TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE INDEX data_holds_node ON data_holds (node);

-- Manifests a hold keeps live.
CREATE TABLE data_pins (
    hold_id     TEXT NOT NULL,
    manifest_id TEXT NOT NULL,
    PRIMARY KEY (hold_id, manifest_id)
);

-- One row: the deletion epoch (0 until first used, then a random non-zero token) and the running collection's lease
-- (collector NULL, or the node whose collection runs until collection_expires_at unless renewed).
CREATE TABLE data_coordination (
    id                    BIGINT NOT NULL PRIMARY KEY,
    deletion_epoch        BIGINT NOT NULL,
    collector             TEXT,
    collection_id         TEXT,
    collection_expires_at BIGINT NOT NULL
);

INSERT INTO data_coordination (id, deletion_epoch, collector, collection_id, collection_expires_at) VALUES (1, 0, NULL, NULL, 0);
