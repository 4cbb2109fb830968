-- Times are Unix epoch milliseconds (BIGINT); booleans are 0/1; lists and free-form maps are JSON text.

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);

-- The durable job queue shared by every service. A job row is written in the same transaction as the
-- change that starts it; workers claim it with a lease and record each finished step.
CREATE TABLE jobs (
    id           TEXT    NOT NULL PRIMARY KEY,      -- 32 lowercase hex
    project_id   TEXT    NOT NULL,
    service      TEXT    NOT NULL,                  -- ecs | evs | ims | cbr | csbs
    job_type     TEXT    NOT NULL,                  -- wire job_type, e.g. createServer
    status       TEXT    NOT NULL,                  -- INIT | RUNNING | SUCCESS | FAIL
    payload      TEXT    NOT NULL,                  -- handler input (JSON)
    entities     TEXT    NOT NULL,                  -- wire entities (JSON object)
    resource_id  TEXT,                              -- the main resource the job works on
    step         BIGINT NOT NULL DEFAULT 0,        -- number of finished steps
    attempts     BIGINT NOT NULL DEFAULT 0,
    lease_owner  TEXT,
    lease_until  BIGINT,
    run_after    BIGINT NOT NULL,
    begin_time   BIGINT NOT NULL,
    end_time     BIGINT,
    error_code   TEXT,
    fail_reason  TEXT
);
CREATE INDEX jobs_claimable ON jobs (run_after) WHERE status IN ('INIT', 'RUNNING');
CREATE INDEX jobs_resource ON jobs (resource_id, status);

-- VPC slice -------------------------------------------------------------------------------------------
CREATE TABLE vpcs (
    id                    TEXT    NOT NULL PRIMARY KEY,
    project_id            TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    cidr                  TEXT    NOT NULL,
    status                TEXT    NOT NULL,
    enterprise_project_id TEXT    NOT NULL DEFAULT '0',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX vpcs_project ON vpcs (project_id);

CREATE TABLE subnets (
    id                TEXT    NOT NULL PRIMARY KEY,
    project_id        TEXT    NOT NULL,
    vpc_id            TEXT    NOT NULL REFERENCES vpcs (id),
    name              TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    cidr              TEXT    NOT NULL,
    gateway_ip        TEXT    NOT NULL,
    primary_dns       TEXT,
    secondary_dns     TEXT,
    dhcp_enable       BIGINT NOT NULL DEFAULT 1,
    availability_zone TEXT,
    status            TEXT    NOT NULL,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX subnets_project ON subnets (project_id);
CREATE INDEX subnets_vpc ON subnets (vpc_id);

CREATE TABLE security_groups (
    id                    TEXT    NOT NULL PRIMARY KEY,
    project_id            TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    enterprise_project_id TEXT    NOT NULL DEFAULT '0',
    rules                 TEXT    NOT NULL DEFAULT '[]',   -- JSON array of rule objects
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX security_groups_project ON security_groups (project_id);

CREATE TABLE ports (
    id                 TEXT    NOT NULL PRIMARY KEY,
    project_id         TEXT    NOT NULL,
    subnet_id          TEXT    NOT NULL REFERENCES subnets (id),
    device_id          TEXT    NOT NULL DEFAULT '',
    device_owner       TEXT    NOT NULL DEFAULT '',
    ip_address         TEXT    NOT NULL,
    mac_address        TEXT    NOT NULL,
    security_group_ids TEXT    NOT NULL DEFAULT '[]',    -- JSON array of ids
    is_primary         BIGINT NOT NULL DEFAULT 1,
    status             TEXT    NOT NULL,
    created_at         BIGINT NOT NULL
);
CREATE INDEX ports_project_device ON ports (project_id, device_id);
CREATE UNIQUE INDEX ports_subnet_ip ON ports (subnet_id, ip_address);

-- ECS and EVS ------------------------------------------------------------------------------------------
CREATE TABLE servers (
    id                    TEXT    NOT NULL PRIMARY KEY,
    project_id            TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    status                TEXT    NOT NULL,             -- BUILD | ACTIVE | SHUTOFF | ERROR | DELETED
    task_state            TEXT,                         -- non-null while a job is working on the server
    flavor_id             TEXT    NOT NULL,
    image_id              TEXT    NOT NULL,
    availability_zone     TEXT    NOT NULL,
    vpc_id                TEXT    NOT NULL,
    key_name              TEXT,
    os_type               TEXT    NOT NULL,             -- Linux | Windows
    san_policy            TEXT,                         -- Windows only: OnlineAll | OfflineShared | OfflineInternal
    user_data             TEXT,
    metadata              TEXT    NOT NULL DEFAULT '{}', -- JSON map string->string
    tags                  TEXT    NOT NULL DEFAULT '[]', -- JSON array of "key=value"
    security_group_ids    TEXT    NOT NULL DEFAULT '[]',
    enterprise_project_id TEXT    NOT NULL DEFAULT '0',
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    launched_at           BIGINT
);
CREATE INDEX servers_project ON servers (project_id, created_at);

CREATE TABLE volumes (
    id                TEXT    NOT NULL PRIMARY KEY,
    project_id        TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    description       TEXT    NOT NULL DEFAULT '',
    size_gb           BIGINT NOT NULL,
    volume_type       TEXT    NOT NULL,                 -- SATA | SAS | SSD | GPSSD | ESSD | DSS ...
    availability_zone TEXT    NOT NULL,
    status            TEXT    NOT NULL,                 -- creating | available | in-use | deleting | error
    multiattach       BIGINT NOT NULL DEFAULT 0,       -- a shared disk
    bootable          BIGINT NOT NULL DEFAULT 0,
    image_id          TEXT,                             -- image the volume was created from
    metadata          TEXT    NOT NULL DEFAULT '{}',
    tags              TEXT    NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL
);
CREATE INDEX volumes_project ON volumes (project_id, created_at);

-- A shared (multiattach) volume may be attached to several servers; boot_index 0 marks the system disk.
CREATE TABLE volume_attachments (
    volume_id   TEXT    NOT NULL REFERENCES volumes (id),
    server_id   TEXT    NOT NULL REFERENCES servers (id),
    device      TEXT    NOT NULL,
    boot_index  BIGINT,
    delete_on_termination BIGINT NOT NULL DEFAULT 0,
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (volume_id, server_id)
);
CREATE INDEX volume_attachments_server ON volume_attachments (server_id);
CREATE UNIQUE INDEX volume_attachments_device ON volume_attachments (server_id, device);

-- CBR and CSBS -----------------------------------------------------------------------------------------
CREATE TABLE vaults (
    id                    TEXT    NOT NULL PRIMARY KEY,
    project_id            TEXT    NOT NULL,
    name                  TEXT    NOT NULL,
    description           TEXT    NOT NULL DEFAULT '',
    object_type           TEXT    NOT NULL,             -- server | disk | turbo ...
    protect_type          TEXT    NOT NULL,             -- backup | replication
    consistent_level      TEXT    NOT NULL,
    size_gb               BIGINT NOT NULL,
    is_multi_az           BIGINT NOT NULL DEFAULT 0,
    auto_bind             BIGINT NOT NULL DEFAULT 0,
    auto_expand           BIGINT NOT NULL DEFAULT 0,
    locked                BIGINT NOT NULL DEFAULT 0,
    status                TEXT    NOT NULL,             -- available | deleting | error
    enterprise_project_id TEXT    NOT NULL DEFAULT '0',
    backup_name_prefix    TEXT    NOT NULL DEFAULT '',
    tags                  TEXT    NOT NULL DEFAULT '[]', -- JSON array of {key,value}
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
CREATE INDEX vaults_project ON vaults (project_id);

-- A server is protected by at most one vault (IMG.0183).
CREATE TABLE vault_resources (
    vault_id        TEXT    NOT NULL REFERENCES vaults (id),
    resource_id     TEXT    NOT NULL,
    resource_type   TEXT    NOT NULL,                   -- OS::Nova::Server | OS::Cinder::Volume
    name            TEXT    NOT NULL DEFAULT '',
    exclude_volumes TEXT    NOT NULL DEFAULT '[]',
    include_volumes TEXT    NOT NULL DEFAULT '[]',
    added_at        BIGINT NOT NULL,
    PRIMARY KEY (vault_id, resource_id)
);
CREATE UNIQUE INDEX vault_resources_resource ON vault_resources (resource_id);

-- A CBR checkpoint (one backup run over a vault) or a CSBS checkpoint (one protect call).
CREATE TABLE checkpoints (
    id          TEXT    NOT NULL PRIMARY KEY,
    project_id  TEXT    NOT NULL,
    service     TEXT    NOT NULL,                       -- CBR | CSBS
    vault_id    TEXT,                                   -- CBR only
    name        TEXT    NOT NULL DEFAULT '',
    description TEXT    NOT NULL DEFAULT '',
    status      TEXT    NOT NULL,                       -- protecting | available | error
    incremental BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX checkpoints_project ON checkpoints (project_id);

-- One backup of one resource (a server) inside a checkpoint: a CBR backup or a CSBS checkpoint item.
CREATE TABLE backups (
    id             TEXT    NOT NULL PRIMARY KEY,
    project_id     TEXT    NOT NULL,
    service        TEXT    NOT NULL,                    -- CBR | CSBS
    checkpoint_id  TEXT    NOT NULL REFERENCES checkpoints (id),
    vault_id       TEXT,
    resource_id    TEXT    NOT NULL,
    resource_type  TEXT    NOT NULL,
    resource_name  TEXT    NOT NULL DEFAULT '',
    resource_az    TEXT    NOT NULL DEFAULT '',
    resource_size  BIGINT NOT NULL DEFAULT 0,          -- GB, sum of the captured disks
    name           TEXT    NOT NULL DEFAULT '',
    description    TEXT    NOT NULL DEFAULT '',
    status         TEXT    NOT NULL,                    -- protecting | available | error | deleting
    incremental    BIGINT NOT NULL DEFAULT 0,
    os_type        TEXT,                                -- captured from the server, for whole images
    image_id       TEXT,                                -- the server's image at backup time
    san_policy     TEXT,
    enterprise_project_id TEXT NOT NULL DEFAULT '0',
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    protected_at   BIGINT
);
CREATE INDEX backups_project ON backups (project_id, created_at);
CREATE INDEX backups_checkpoint ON backups (checkpoint_id);
CREATE INDEX backups_resource ON backups (resource_id);

-- What a backup captured of each disk; the data plane later adds a manifest per row.
CREATE TABLE backup_volumes (
    backup_id   TEXT    NOT NULL REFERENCES backups (id),
    volume_id   TEXT    NOT NULL,
    name        TEXT    NOT NULL DEFAULT '',
    size_gb     BIGINT NOT NULL,
    volume_type TEXT    NOT NULL,
    device      TEXT    NOT NULL,
    boot_index  BIGINT,
    multiattach BIGINT NOT NULL DEFAULT 0,
    bootable    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (backup_id, volume_id)
);

-- IMS images --------------------------------------------------------------------------------------------
CREATE TABLE images (
    id                    TEXT    NOT NULL PRIMARY KEY,
    owner                 TEXT    NOT NULL,             -- project id; public images belong to the platform
    name                  TEXT    NOT NULL,
    status                TEXT    NOT NULL,             -- queued | saving | active | killed | deleted
    visibility            TEXT    NOT NULL,             -- public | private | shared
    imagetype             TEXT    NOT NULL,             -- gold | private | shared | market
    whole_image           BIGINT NOT NULL DEFAULT 0,
    os_type               TEXT    NOT NULL DEFAULT 'Linux',
    os_version            TEXT    NOT NULL DEFAULT '',
    platform              TEXT    NOT NULL DEFAULT '',
    os_bit                TEXT    NOT NULL DEFAULT '64',
    min_disk              BIGINT NOT NULL DEFAULT 0,
    min_ram               BIGINT NOT NULL DEFAULT 0,
    max_ram               BIGINT,
    disk_format           TEXT    NOT NULL DEFAULT 'zvhd2',
    container_format      TEXT    NOT NULL DEFAULT 'bare',
    size                  BIGINT NOT NULL DEFAULT 0,
    image_size            BIGINT NOT NULL DEFAULT 0,  -- bytes, rendered as __image_size
    description           TEXT    NOT NULL DEFAULT '',
    backup_id             TEXT,
    data_origin           TEXT,
    source_type           TEXT    NOT NULL DEFAULT 'uds',
    enterprise_project_id TEXT    NOT NULL DEFAULT '0',
    protected             BIGINT NOT NULL DEFAULT 0,
    properties            TEXT    NOT NULL DEFAULT '{}', -- further string attributes (__support_*, hw_*, ...)
    tags                  TEXT    NOT NULL DEFAULT '[]', -- JSON array of {key,value}
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL,
    active_at             BIGINT
);
CREATE INDEX images_owner ON images (owner, status);
CREATE INDEX images_name ON images (name);
