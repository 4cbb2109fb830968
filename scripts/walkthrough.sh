#!/usr/bin/env bash
# A tour of the service with curl, as a new user would take it: token, images, network, an ECS with two data
# disks, power and disk operations, a disk backup and its restore, a CBR backup, a CSBS backup restored onto the ECS,
# a whole image from the CBR backup, and a backup policy that runs (about a minute of waiting: its slot is the next
# whole minute, in UTC).
# Start the service first (dotnet run --project src/Ims.Service), then: bash scripts/walkthrough.sh [base-url]
set -euo pipefail

BASE=${1:-http://127.0.0.1:8090}
if ! command -v jq >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq jq >/dev/null; else echo "needs jq (apt-get install jq)"; exit 1; fi
fi

say() { printf '\n== %s\n' "$*"; }
TOKEN=$(curl -fsS -D - -o /dev/null -X POST "$BASE/v3/auth/tokens" -H 'Content-Type: application/json' -d '{
  "auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "admin",
           "password": "ims-local-password", "domain": {"name": "local"}}}},
           "scope": {"project": {"name": "cn-north-4"}}}}' | tr -d '\r' | awk -F': ' 'tolower($1)=="x-subject-token"{print $2}')
PID=0b1e494e2660441a957313163095fe5c
api() { local method=$1 path=$2; shift 2; curl -fsS -X "$method" "$BASE$path" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/json' "$@"; }
wait_job() {
  local status
  for _ in $(seq 1 300); do
    status=$(api GET "/v1/$PID/jobs/$1" | jq -r .status)
    case $status in SUCCESS) return 0 ;; FAIL) api GET "/v1/$PID/jobs/$1"; return 1 ;; esac
    sleep 1
  done
  echo "job $1 did not finish"; return 1
}

say "availability zones and a flavor"
AZ=$(api GET "/v2.1/$PID/os-availability-zone" | jq -r '.availabilityZoneInfo[0].zoneName')
api GET "/v1/$PID/cloudservers/flavors?availability_zone=$AZ" | jq -c '.flavors[0] | {id, vcpus, ram}'

say "the public image terraform looks up by name"
IMAGE=$(api GET "/v2/cloudimages?enterprise_project_id=all_granted_eps&limit=1&name=Ubuntu+18.04+server+64bit" | jq -r '.images[0].id')
echo "$IMAGE"

say "VPC, subnet, security group"
VPC=$(api POST "/v1/$PID/vpcs" -d '{"vpc":{"name":"tour-vpc","cidr":"192.168.0.0/16"}}' | jq -r .vpc.id)
SUBNET=$(api POST "/v1/$PID/subnets" -d "{\"subnet\":{\"name\":\"tour-subnet\",\"cidr\":\"192.168.1.0/24\",\"gateway_ip\":\"192.168.1.1\",\"vpc_id\":\"$VPC\"}}" | jq -r .subnet.id)
SG=$(api POST "/v3/$PID/vpc/security-groups" -d '{"security_group":{"name":"tour-sg"}}' | jq -r .security_group.id)
echo "vpc $VPC subnet $SUBNET sg $SG"

say "an ECS with a system disk and two data disks"
JOB=$(api POST "/v1.1/$PID/cloudservers" -d "{\"server\":{\"imageRef\":\"$IMAGE\",\"flavorRef\":\"s6.large.2\",\"name\":\"tour-ecs\",
  \"vpcid\":\"$VPC\",\"nics\":[{\"subnet_id\":\"$SUBNET\"}],\"root_volume\":{\"volumetype\":\"GPSSD\"},
  \"data_volumes\":[{\"volumetype\":\"SAS\",\"size\":10},{\"volumetype\":\"SSD\",\"size\":20}],
  \"security_groups\":[{\"id\":\"$SG\"}],\"availability_zone\":\"$AZ\"}}" | jq -r .job_id)
wait_job "$JOB"
SERVER=$(api GET "/v1/$PID/jobs/$JOB" | jq -r '.entities.sub_jobs[0].entities.server_id')
api GET "/v1/$PID/cloudservers/$SERVER" | jq -c '.server | {id, status, disks: [."os-extended-volumes:volumes_attached"[] | {id, bootIndex}]}'
SYSVOL=$(api GET "/v1/$PID/cloudservers/$SERVER" | jq -r '.server."os-extended-volumes:volumes_attached"[] | select(.bootIndex=="0") | .id')
api GET "/v1/$PID/cloudservers/$SERVER/block_device/$SYSVOL" | jq -c .volumeAttachment
api GET "/v2/$PID/cloudvolumes/$SYSVOL" | jq -c '.volume | {id, size, volume_type, bootable, status}'

say "stop and start"
wait_job "$(api POST "/v1/$PID/cloudservers/action" -d "{\"os-stop\":{\"servers\":[{\"id\":\"$SERVER\"}],\"type\":\"SOFT\"}}" | jq -r .job_id)"
api GET "/v1/$PID/cloudservers/$SERVER" | jq -r .server.status
wait_job "$(api POST "/v1/$PID/cloudservers/action" -d "{\"os-start\":{\"servers\":[{\"id\":\"$SERVER\"}]}}" | jq -r .job_id)"
api GET "/v1/$PID/cloudservers/$SERVER" | jq -r .server.status

say "attach and detach an EVS volume"
VJOB=$(api POST "/v2/$PID/cloudvolumes" -d "{\"volume\":{\"availability_zone\":\"$AZ\",\"volume_type\":\"SAS\",\"size\":15,\"name\":\"tour-vol\"}}" | jq -r .job_id)
wait_job "$VJOB"
VOL=$(api GET "/v1/$PID/jobs/$VJOB" | jq -r .entities.volume_id)
wait_job "$(api POST "/v1/$PID/cloudservers/$SERVER/attachvolume" -d "{\"volumeAttachment\":{\"volumeId\":\"$VOL\"}}" | jq -r .job_id)"
api GET "/v2/$PID/cloudvolumes/$VOL" | jq -r .volume.status
wait_job "$(api DELETE "/v1/$PID/cloudservers/$SERVER/detachvolume/$VOL" | jq -r .job_id)"
api GET "/v2/$PID/cloudvolumes/$VOL" | jq -r .volume.status

say "a disk backup in a disk vault, the disk overwritten, and the backup restored onto it"
bytes() { curl -fsS -X "$1" "$BASE/data/v1/$PID/volumes/$VOL/bytes?offset=0${3:-}" -H "X-Auth-Token: $TOKEN" -H 'Content-Type: application/octet-stream' ${2:+--data-binary "$2"}; }
bytes PUT 'bytes of the backup'
DVAULT=$(api POST "/v3/$PID/vaults" -d "{\"vault\":{\"name\":\"tour-disks\",\"billing\":{\"object_type\":\"disk\",\"consistent_level\":\"crash_consistent\",\"protect_type\":\"backup\",\"size\":100},\"resources\":[{\"id\":\"$VOL\",\"type\":\"OS::Cinder::Volume\"}]}}" | jq -r .vault.id)
DCP=$(api POST "/v3/$PID/checkpoints" -d "{\"checkpoint\":{\"vault_id\":\"$DVAULT\"}}" | jq -r .checkpoint.id)
until [ "$(api GET "/v3/$PID/checkpoints/$DCP" | jq -r .checkpoint.status)" = available ]; do sleep 1; done
DBACKUP=$(api GET "/v3/$PID/backups?checkpoint_id=$DCP" | jq -r '.backups[0].id')
bytes PUT 'OVERWRITTEN, LATER'
RJOB=$(api POST "/v3/$PID/backups/$DBACKUP/restore" -d "{\"restore\":{\"volume_id\":\"$VOL\"}}" | jq -r .job_id)
until [[ "$(api GET "/v3/$PID/operation-logs/$RJOB" | jq -r .operation_log.status)" =~ ^(success|failed)$ ]]; do sleep 1; done
api GET "/v3/$PID/operation-logs/$RJOB" | jq -c '.operation_log | {operation_type, status, backup: .extra_info.restore.backup_id}'
echo "the disk holds: $(bytes GET '' '&length=19')"

say "a CBR vault, the ECS in it, a checkpoint and its backups"
VAULT=$(api POST "/v3/$PID/vaults" -d "{\"vault\":{\"name\":\"tour-vault\",\"billing\":{\"object_type\":\"server\",\"consistent_level\":\"crash_consistent\",\"protect_type\":\"backup\",\"size\":200},\"resources\":[{\"id\":\"$SERVER\",\"type\":\"OS::Nova::Server\"}]}}" | jq -r .vault.id)
CHECKPOINT=$(api POST "/v3/$PID/checkpoints" -d "{\"checkpoint\":{\"vault_id\":\"$VAULT\",\"parameters\":{\"name\":\"tour-backup\",\"incremental\":false,\"resource_details\":[{\"id\":\"$SERVER\",\"type\":\"OS::Nova::Server\"}]}}}" | jq -r .checkpoint.id)
until [ "$(api GET "/v3/$PID/checkpoints/$CHECKPOINT" | jq -r .checkpoint.status)" = available ]; do sleep 1; done
api GET "/v3/$PID/backups?checkpoint_id=$CHECKPOINT&offset=0&limit=10" | jq -c '.backups[] | {id, resource_id, resource_size, status}'
BACKUP=$(api GET "/v3/$PID/backups?checkpoint_id=$CHECKPOINT" | jq -r '.backups[0].id')

say "a CSBS backup of the ECS, restored onto the stopped ECS (which starts again), then deleted"
PROVIDER=fc4d5750-22e7-4798-8a46-f48f62c4c1da
api POST "/v1/$PID/providers/$PROVIDER/resources/action" -d "{\"check_protectable\":[{\"resource_id\":\"$SERVER\",\"resource_type\":\"OS::Nova::Server\"}]}" | jq -c .protectable
CSBS=$(api POST "/v1/$PID/providers/$PROVIDER/resources/$SERVER/action" -d '{"protect":{"backup_name":"tour-csbs","resource_type":"OS::Nova::Server"}}' | jq -r .checkpoint.id)
ITEM=$(api GET "/v1/$PID/checkpoint_items?checkpoint_id=$CSBS" | jq -r '.checkpoint_items[0].id')
until [ "$(api GET "/v1/$PID/checkpoint_items/$ITEM" | jq -r .checkpoint_item.status)" = available ]; do sleep 1; done
wait_job "$(api POST "/v1/$PID/cloudservers/action" -d "{\"os-stop\":{\"servers\":[{\"id\":\"$SERVER\"}],\"type\":\"SOFT\"}}" | jq -r .job_id)"
RESTORE=$(api POST "/v1/$PID/restores" -d "{\"restore\":{\"provider_id\":\"$PROVIDER\",\"checkpoint_id\":\"$CSBS\",
  \"parameters\":{\"checkpoint_item_id\":\"$ITEM\",\"power_on\":true,\"targets\":{\"server_id\":\"$SERVER\"}}}}" | jq -r .restore.id)
until [ "$(api GET "/v1/$PID/checkpoint_items/$ITEM" | jq -r .checkpoint_item.status)" = available ]; do sleep 1; done
api GET "/v1/$PID/restores/$RESTORE" | jq -c '.restore | {status, resources_status}'
api GET "/v1/$PID/cloudservers/$SERVER" | jq -r .server.status
api DELETE "/v1/$PID/providers/$PROVIDER/checkpoints/$CSBS" >/dev/null
echo "deleted CSBS backup $ITEM"

say "a full-ECS image from the CBR backup"
IJOB=$(api POST /v1/cloudimages/wholeimages/action -d "{\"name\":\"tour-whole-image\",\"backup_id\":\"$BACKUP\",\"whole_image_type\":\"CBR\"}" | jq -r .job_id)
wait_job "$IJOB"
WHOLE=$(api GET "/v1/$PID/jobs/$IJOB" | jq -r .entities.image_id)
api GET "/v2/cloudimages?id=$WHOLE" | jq -c '.images[0] | {id, name, status, __whole_image, __backup_id, min_disk, __image_size}'

say "a backup policy on the vault, due at the next whole minute (UTC), and the automatic backup it makes"
SLOT=$(date -u -d "+$(( 10#$(date -u +%S) > 50 ? 2 : 1 )) min" +%H:%M)
POLICY=$(api POST "/v3/$PID/policies" -d "{\"policy\":{\"name\":\"tour-policy\",\"operation_type\":\"backup\",\"enabled\":true,
  \"operation_definition\":{\"max_backups\":1},
  \"trigger\":{\"properties\":{\"pattern\":[\"FREQ=DAILY;INTERVAL=1;BYHOUR=${SLOT%:*};BYMINUTE=${SLOT#*:}\"]}}}}" | jq -r .policy.id)
api POST "/v3/$PID/vaults/$VAULT/associatepolicy" -d "{\"policy_id\":\"$POLICY\"}" | jq -c .associate_policy
echo "waiting for the run at $SLOT UTC"
for _ in $(seq 1 180); do
  [ "$(api GET "/v3/$PID/backups?vault_id=$VAULT" | jq '[.backups[] | select(.extend_info.auto_trigger and .status == "available")] | length')" -ge 1 ] && break
  sleep 1
done
api GET "/v3/$PID/backups?vault_id=$VAULT" | jq -c '.backups[] | {name, created_at, status, auto: .extend_info.auto_trigger}'
api POST "/v3/$PID/vaults/$VAULT/dissociatepolicy" -d "{\"policy_id\":\"$POLICY\"}" >/dev/null
api DELETE "/v3/$PID/policies/$POLICY" >/dev/null

say "a system disk image of the ECS, with a data disk image of its first data disk"
DATAVOL=$(api GET "/v1/$PID/cloudservers/$SERVER" | jq -r '[.server."os-extended-volumes:volumes_attached"[] | select(.bootIndex!="0")][0].id')
SJOB=$(api POST /v2/cloudimages/action -d "{\"name\":\"tour-system-image\",\"instance_id\":\"$SERVER\",
  \"data_images\":[{\"name\":\"tour-data-image\",\"volume_id\":\"$DATAVOL\"}]}" | jq -r .job_id)
wait_job "$SJOB"
SYSIMAGE=$(api GET "/v1/$PID/jobs/$SJOB" | jq -r .entities.image_id)
api GET "/v1/$PID/jobs/$SJOB" | jq -c '{job_type, status, image_id: .entities.image_id, data_image_id: .entities.sub_jobs_result[0].entities.image_id}'
api GET "/v2/cloudimages?id=$SYSIMAGE" | jq -c '.images[0] | {id, name, status, virtual_env_type, __data_origin, min_disk, virtual_size}'

say "a copy of the system disk image in the region (it shares every chunk)"
CJOB=$(api POST "/v1/cloudimages/$SYSIMAGE/copy" -d '{"name":"tour-system-copy","description":"a copy"}' | jq -r .job_id)
wait_job "$CJOB"
COPY=$(api GET "/v1/$PID/jobs/$CJOB" | jq -r .entities.image_id)
api GET "/v2/cloudimages?id=$COPY" | jq -c '.images[0] | {id, name, status, __data_origin, virtual_size}'
say "done"
