-- A job's progress is the name of its last finished step (jobs.last_step), no longer a count of finished steps: with a
-- count, a release that reorders or inserts steps would resume a job in flight at the wrong step. The runner resumes
-- at the step after last_step; a name its handler no longer has fails the job with an internal error.

ALTER TABLE jobs ADD COLUMN last_step TEXT;

-- Rows written with a count get the name of the step that count ended with, in the step lists of the release that
-- wrote them. Mode A (imsCreateWholeImageByInstanceJob) now runs the backup steps of the CBR and CSBS checkpoint jobs:
-- its CreateBackup, CaptureDisks and FinishBackup did what capture, capture bytes and complete do, so a job in flight
-- resumes where it was. A count this list does not know gets a name no handler has, so its job fails instead of
-- starting again from its first step.
UPDATE jobs SET last_step = CASE
    WHEN job_type = 'createServer' AND step = 1 THEN 'create disks'
    WHEN job_type = 'createServer' AND step = 2 THEN 'boot servers'
    WHEN job_type IN ('stopServer', 'startServer', 'rebootServer') AND step = 1 THEN 'power'
    WHEN job_type = 'deleteServer' AND step = 1 THEN 'delete servers'
    WHEN job_type = 'attachVolume' AND step = 1 THEN 'attach'
    WHEN job_type = 'detachVolume' AND step = 1 THEN 'detach'
    WHEN job_type = 'changeOS' AND step = 1 THEN 'change os'
    WHEN job_type = 'createVolume' AND step = 1 THEN 'create'
    WHEN job_type = 'deleteVolume' AND step = 1 THEN 'delete'
    WHEN job_type IN ('cbrCreateCheckpoint', 'csbsCreateBackup', 'imsCreateWholeImageByInstanceJob') AND step = 1 THEN 'capture'
    WHEN job_type IN ('cbrCreateCheckpoint', 'csbsCreateBackup', 'imsCreateWholeImageByInstanceJob') AND step = 2 THEN 'capture bytes'
    WHEN job_type IN ('cbrCreateCheckpoint', 'csbsCreateBackup', 'imsCreateWholeImageByInstanceJob') AND step = 3 THEN 'complete'
    WHEN job_type = 'imsCreateWholeImageByInstanceJob' AND step = 4 THEN 'RegisterImage'
    WHEN job_type = 'imsCreateWholeImageByBackupJob' AND step = 1 THEN 'VerifyBackup'
    WHEN job_type = 'imsCreateWholeImageByBackupJob' AND step = 2 THEN 'RegisterImage'
    WHEN job_type = 'imsCrossRegionCopyImageJob' AND step = 1 THEN 'ReplicateBackup'
    WHEN job_type = 'imsCrossRegionCopyImageJob' AND step = 2 THEN 'RegisterImage'
    WHEN job_type = 'imsAddImageMembersJob' AND step = 1 THEN 'AddMembers'
    WHEN job_type = 'imsUpdateImageMembersJob' AND step = 1 THEN 'UpdateMembers'
    WHEN job_type = 'imsDelImageMembersJob' AND step = 1 THEN 'RemoveMembers'
    ELSE 'step ' || CAST(step AS TEXT) || ' of an earlier release'
END
WHERE step > 0;

ALTER TABLE jobs DROP COLUMN step;
