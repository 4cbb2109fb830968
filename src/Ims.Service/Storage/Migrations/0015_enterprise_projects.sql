-- Enterprise projects (EPS), per account. Every account has "0", the default, seeded at start-up and never changed.
CREATE TABLE enterprise_projects (
    domain_id   TEXT NOT NULL,
    id          TEXT NOT NULL,
    name        TEXT NOT NULL,
    -- The name lower-cased (invariant culture): names are unique in an account whatever their case.
    name_key    TEXT NOT NULL,
    description TEXT NOT NULL,
    -- prod or poc
    type        TEXT NOT NULL,
    -- 1 enabled, 2 disabled
    status      BIGINT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (domain_id, id)
);

CREATE UNIQUE INDEX enterprise_projects_name ON enterprise_projects (domain_id, name_key);
