-- Image sharing: the projects an image is shared with, and what each member answered.

CREATE TABLE image_members (
    image_id   TEXT    NOT NULL REFERENCES images (id),
    member_id  TEXT    NOT NULL,                      -- the member's project id
    status     TEXT    NOT NULL,                      -- pending | accepted | rejected
    vault_id   TEXT,                                  -- the member's vault named when accepting a CBR whole image
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (image_id, member_id)
);
-- The visibility predicate asks "which images is this project a member of (in this status)": one index range.
CREATE INDEX image_members_member ON image_members (member_id, status, image_id);

-- OTC: a whole image made from a CBR backup that was itself shared with the project cannot be shared on. Nothing
-- sets it yet (this service has no CBR backup sharing); the sharing rule reads it.
ALTER TABLE images ADD COLUMN source_backup_shared BIGINT NOT NULL DEFAULT 0;
