-- Backup policies (CBR v3 and CSBS v1): what runs when, and which backups it keeps. The policy store owns these tables.
CREATE TABLE backup_policies (
    id             TEXT   NOT NULL PRIMARY KEY,
    project_id     TEXT   NOT NULL,
    service        TEXT   NOT NULL,              -- CBR | CSBS
    name           TEXT   NOT NULL,
    description    TEXT   NOT NULL DEFAULT '',
    operation_type TEXT   NOT NULL,              -- backup | replication (CBR; replication policies are stored, never run)
    enabled        BIGINT NOT NULL,
    -- The retention rules as one JSON object (max_backups, retention_duration_days, day/week/month/year_backups,
    -- timezone, full_backup_interval, the replication destination): read and written whole, never queried.
    definition     TEXT   NOT NULL,
    -- The trigger's patterns as a JSON array of the strings the client sent (CBR: RRULEs; CSBS: one VCALENDAR).
    patterns       TEXT   NOT NULL,
    trigger_id     TEXT   NOT NULL,
    operation_id   TEXT   NOT NULL,              -- CSBS: the scheduled operation's id
    operation_name TEXT   NOT NULL DEFAULT '',   -- CSBS: the scheduled operation's name and description
    operation_description TEXT NOT NULL DEFAULT '',
    tags           TEXT   NOT NULL DEFAULT '[]',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX backup_policies_project ON backup_policies (project_id, service, created_at);

-- CBR: the policies applied to a vault, at most one of each operation type.
CREATE TABLE policy_vaults (
    vault_id             TEXT   NOT NULL,
    operation_type       TEXT   NOT NULL,
    policy_id            TEXT   NOT NULL,
    destination_vault_id TEXT,
    added_at             BIGINT NOT NULL,
    PRIMARY KEY (vault_id, operation_type)
);
CREATE INDEX policy_vaults_policy ON policy_vaults (policy_id);

-- CSBS: the servers a policy protects.
CREATE TABLE policy_resources (
    policy_id     TEXT   NOT NULL,
    resource_id   TEXT   NOT NULL,
    resource_type TEXT   NOT NULL,
    name          TEXT   NOT NULL DEFAULT '',
    added_at      BIGINT NOT NULL,
    PRIMARY KEY (policy_id, resource_id)
);

-- One row per scheduled run: the primary key is the claim, so a slot is run at most once whichever node schedules it.
-- A run not yet started (started = 0) is withdrawn when its policy changes; its job then finds no row and does nothing.
CREATE TABLE policy_runs (
    policy_id    TEXT   NOT NULL,
    scheduled_at BIGINT NOT NULL,
    job_id       TEXT   NOT NULL,
    started      BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (policy_id, scheduled_at)
);

-- Backups a policy made (automatic backups): only these are pruned by retention, and CBR shows auto_trigger for them.
ALTER TABLE backups ADD COLUMN policy_id TEXT;
CREATE INDEX backups_policy ON backups (policy_id, resource_id);
