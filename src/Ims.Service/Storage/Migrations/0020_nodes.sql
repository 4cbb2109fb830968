-- Several service nodes on one database and one bucket (see Nodes/). A volume's bytes live on one node's disk: the node
-- that hosts it (and its server) runs the jobs that touch them and serves its data endpoint. NULL: not bound to a node
-- (rows from before nodes existed; any node may use them, as a single node always did).
ALTER TABLE servers ADD COLUMN node TEXT;
ALTER TABLE volumes ADD COLUMN node TEXT;
-- The node a job must run on (NULL: any node).
ALTER TABLE jobs ADD COLUMN node TEXT;
-- The node whose disk holds a doomed volume file (NULL: any node's janitor removes it).
ALTER TABLE volume_files_doomed ADD COLUMN node TEXT;

-- The nodes, each registered with the URL other nodes forward to and a heartbeat renewed while it runs.
CREATE TABLE nodes (
    name         TEXT NOT NULL PRIMARY KEY,
    url          TEXT NOT NULL,
    started_at   BIGINT NOT NULL,
    heartbeat_at BIGINT NOT NULL
);
