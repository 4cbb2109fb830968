-- Fault injection: admin rules that make chosen jobs fail at a step with a chosen code, or run slower.

-- A rule chooses jobs when they start; NULL matchers match anything. remaining counts the jobs it may still
-- choose (NULL: every matching job until the rule is deleted).
CREATE TABLE job_faults (
    id          TEXT    NOT NULL PRIMARY KEY,      -- uuid
    job_type    TEXT,                              -- wire job_type, e.g. createVolume
    resource_id TEXT,                              -- matches jobs.resource_id
    step        TEXT,                              -- step name; NULL: fail at the first step, slow every step
    error_code  TEXT,                              -- NULL: the rule only slows
    message     TEXT,                              -- the fail_reason chosen jobs get
    delay_ms    BIGINT NOT NULL DEFAULT 0,
    remaining   BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX job_faults_created ON job_faults (created_at);

-- The rule that chose a job, bound once when the job starts so that a count means exactly that many jobs, across
-- workers and restarts. No foreign key: a deleted rule leaves its id behind, so the job is never bound again.
ALTER TABLE jobs ADD COLUMN fault_id TEXT;
CREATE INDEX jobs_fault ON jobs (fault_id) WHERE fault_id IS NOT NULL;
