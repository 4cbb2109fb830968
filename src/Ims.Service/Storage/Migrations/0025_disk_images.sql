-- System and data disk images (POST /v2/cloudimages/action) and in-region copies.

-- What kind of disk an image holds, as IMS reports it in virtual_env_type: FusionCompute (a system disk: servers boot
-- from it), DataImage (a data disk: EVS disks are made from it, servers are not).
ALTER TABLE images ADD COLUMN virtual_env_type TEXT NOT NULL DEFAULT 'FusionCompute';
