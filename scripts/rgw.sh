#!/usr/bin/env bash
# A throwaway single-node Ceph cluster with the RADOS Gateway (S3) on 127.0.0.1: one mon, one mgr, one OSD (BlueStore on
# a sparse file) and radosgw, all in one temporary folder (nothing under /etc/ceph or /var/lib/ceph, no systemd).
# Used by .ci/run and by anyone who wants the service's chunks and manifests in a real S3 bucket.
#
#   scripts/rgw.sh start   installs Debian's Ceph packages when missing, starts the cluster, prints the export lines
#   scripts/rgw.sh env     prints the export lines of the running cluster:   eval "$(scripts/rgw.sh env)"
#   scripts/rgw.sh stop    stops the daemons (rgw, osd, mgr, mon, one at a time) and removes the folder
#
# The export lines: IMS_TEST_S3 (the S3 endpoint), IMS_TEST_S3_ACCESS_KEY and IMS_TEST_S3_SECRET_KEY (the tests that run
# against RGW are enabled by them), and Ims__ObjectStore__* (the service's settings, bucket "ims").
# Settings: IMS_RGW_PORT_BASE (default 17000; the mon listens on +0/+1, the daemons on +10..+79, S3 on +80),
# IMS_RGW_DIR (default ${TMPDIR:-/tmp}/ims-rgw-<port base>), IMS_RGW_MGR=0 (no mgr: 300 MiB less; RGW does not need it).
set -euo pipefail

PORT_BASE=${IMS_RGW_PORT_BASE:-17000}
DIR=${IMS_RGW_DIR:-${TMPDIR:-/tmp}/ims-rgw-${PORT_BASE}}
CONF=$DIR/ceph.conf
S3_PORT=$((PORT_BASE + 80))
ENDPOINT=http://127.0.0.1:${S3_PORT}
DAEMONS_STOP_ORDER=(client.rgw.a osd.0 mgr.x mon.a)

log() { echo "rgw.sh: $*" >&2; }

usage() {
  echo "usage: $0 start|env|stop" >&2
  exit 2
}

# Waits until a command succeeds, for at most $1 seconds.
wait_for() {
  local seconds=$1 what=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "timed out after ${seconds}s waiting for ${what}"
      return 1
    fi
    sleep 0.2
  done
}

install_packages() {
  local missing=()
  for tool in ceph-mon ceph-mgr ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool uuidgen curl; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian's Ceph packages (missing: ${missing[*]})"
  local as_root=()
  [ "$(id -u)" -ne 0 ] && as_root=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  "${as_root[@]}" apt-get update -q >&2
  "${as_root[@]}" apt-get install -y -q --no-install-recommends \
    ceph-mon ceph-mgr ceph-osd radosgw ceph-common uuid-runtime curl >&2
}

# The PID of a daemon of this folder's cluster, or nothing (a PID file whose process is gone, or is not ours, is ignored).
daemon_pid() {
  local pidfile=$DIR/run/$1.pid pid
  [ -f "$pidfile" ] || return 0
  pid=$(cat "$pidfile" 2>/dev/null || true)
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$CONF"; then echo "$pid"; fi
}

running() { [ -n "$(daemon_pid mon.a)" ] && [ -f "$DIR/s3.env" ]; }

print_env() {
  # shellcheck disable=SC1091
  . "$DIR/s3.env"
  cat <<EOF
export IMS_RGW_DIR=$DIR
export IMS_TEST_S3=$ENDPOINT
export IMS_TEST_S3_ACCESS_KEY=$ACCESS_KEY
export IMS_TEST_S3_SECRET_KEY=$SECRET_KEY
export Ims__ObjectStore__Endpoint=$ENDPOINT
export Ims__ObjectStore__Bucket=ims
export Ims__ObjectStore__AccessKey=$ACCESS_KEY
export Ims__ObjectStore__SecretKey=$SECRET_KEY
EOF
}

stop_daemon() {
  local name=$1 pid
  pid=$(daemon_pid "$name")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + 4))
  while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
  [ -d "/proc/$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  # A daemon lingers in /proc for a moment after its cmdline empties; wait so that its ports are free again.
  deadline=$((SECONDS + 10))
  while [ -d "/proc/$pid" ] && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.1; done
}

stop() {
  if [ ! -d "$DIR" ]; then
    log "no cluster in $DIR"
    return 0
  fi
  for name in "${DAEMONS_STOP_ORDER[@]}"; do stop_daemon "$name"; done
  rm -rf "$DIR"
  log "stopped; removed $DIR"
}

write_conf() {
  cat >"$CONF" <<EOF
[global]
fsid = $1
mon_host = [v2:127.0.0.1:${PORT_BASE},v1:127.0.0.1:$((PORT_BASE + 1))]
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_ipv6 = false
ms_bind_port_min = $((PORT_BASE + 10))
ms_bind_port_max = $((PORT_BASE + 79))
auth_cluster_required = cephx
auth_service_required = cephx
auth_client_required = cephx
auth_allow_insecure_global_id_reclaim = false
keyring = $DIR/keyring
run_dir = $DIR/run
crash_dir = $DIR/crash
admin_socket = $DIR/run/\$cluster-\$name.asok
pid_file = $DIR/run/\$name.pid
log_file = $DIR/log/\$name.log
log_to_stderr = false
err_to_stderr = true
log_to_journald = false
mon_cluster_log_file = $DIR/log/cluster.log
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mon_allow_pool_delete = true
mon_data_avail_warn = 2
mon_data_avail_crit = 1
mgr_initial_modules = iostat

[mon]
mon_data = $DIR/mon/\$cluster-\$id
# The default 1 s makes each pool RGW creates at its first start cost about 2 s.
paxos_propose_interval = 0.05

[mgr]
mgr_data = $DIR/mgr/\$cluster-\$id

[osd]
osd_data = $DIR/osd/\$cluster-\$id
keyring = $DIR/osd/\$cluster-\$id/keyring
osd_memory_target = 1073741824
osd_objectstore = bluestore
# Beside osd_data, not inside it: BlueStore links osd_data/block to this path.
bluestore_block_path = $DIR/osd/\$cluster-\$id.block
bluestore_block_create = true
bluestore_block_size = 10737418240
bluestore_block_db_create = false
bluestore_block_wal_create = false
bluestore_fsck_on_mkfs = false
bluestore_fsck_on_mount = false
bluestore_fsck_on_umount = false

[client.rgw.a]
rgw_data = $DIR/rgw/\$cluster-\$id
rgw_frontends = beast endpoint=127.0.0.1:${S3_PORT}
rgw_luarocks_location = $DIR/rgw/luarocks
EOF
}

# A start that failed half-way shows why (the command, the ends of the daemons' logs), then removes what it started.
start_failed() {
  trap - ERR
  log "start failed at: $1"
  for f in "$DIR"/log/*; do
    [ -s "$f" ] || continue
    echo "---- ${f##*/}" >&2
    tail -n 15 "$f" >&2
  done
  stop
  exit 1
}

start() {
  install_packages
  if running; then
    log "already running in $DIR"
    print_env
    return 0
  fi
  # A folder left by a start that died half-way: clear it (and any daemon of it) first.
  [ -d "$DIR" ] && stop
  mkdir -p "$DIR"/{run,log,crash,mon,mgr/ceph-x,osd,rgw/ceph-rgw.a}
  trap 'start_failed "$BASH_COMMAND"' ERR

  local fsid
  fsid=$(uuidgen)
  write_conf "$fsid"

  # One keyring with every daemon's key and caps; the mon imports it at mkfs, so no "ceph auth" calls are needed.
  ceph-authtool --create-keyring "$DIR/keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.admin \
    --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *' >/dev/null
  ceph-authtool "$DIR/keyring" --gen-key -n client.rgw.a --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' >/dev/null

  monmaptool --create --clobber --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:${PORT_BASE},v1:127.0.0.1:$((PORT_BASE + 1))]" "$DIR/monmap" >/dev/null
  ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/keyring"
  ceph-mon -c "$CONF" -i a
  wait_for 30 "the mon" ceph -c "$CONF" --connect-timeout 5 mon stat

  if [ "${IMS_RGW_MGR:-1}" != 0 ]; then ceph-mgr -c "$CONF" -i x; fi

  local uuid key id
  uuid=$(uuidgen)
  key=$(ceph-authtool --gen-print-key)
  printf '{"cephx_secret": "%s"}\n' "$key" >"$DIR/osd-secret.json"
  id=$(ceph -c "$CONF" osd new "$uuid" -i "$DIR/osd-secret.json")
  rm -f "$DIR/osd-secret.json"
  mkdir -p "$DIR/osd/ceph-$id"
  printf '[osd.%s]\n\tkey = %s\n' "$id" "$key" >"$DIR/osd/ceph-$id/keyring"
  ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "$uuid" 2>"$DIR/log/osd.$id.mkfs.stderr" >/dev/null
  ceph-osd -c "$CONF" -i "$id" 2>"$DIR/log/osd.$id.stderr"
  wait_for 60 "osd.$id to be up" bash -c "ceph -c '$CONF' osd dump | grep -q '^osd.$id up'"

  radosgw -c "$CONF" -n client.rgw.a 2>"$DIR/log/rgw.stderr"
  local access secret
  access=$(uuidgen -r | tr -d '-' | tr 'a-z' 'A-Z' | cut -c1-20)
  secret=$(uuidgen -r | tr -d '-')$(uuidgen -r | tr -d '-' | cut -c1-8)
  radosgw-admin -c "$CONF" user create --uid=ims --display-name="IMS tests" \
    --access-key="$access" --secret-key="$secret" >/dev/null
  printf 'ACCESS_KEY=%s\nSECRET_KEY=%s\n' "$access" "$secret" >"$DIR/s3.env"
  wait_for 60 "the S3 endpoint $ENDPOINT" curl -fsS -o /dev/null "$ENDPOINT/"
  trap - ERR
  log "RGW answers on $ENDPOINT (state in $DIR; stop with: $0 stop)"
  print_env
}

case "${1:-}" in
  start) start ;;
  env)
    if ! running; then
      log "no running cluster in $DIR (start one with: $0 start)"
      exit 1
    fi
    print_env
    ;;
  stop) stop ;;
  *) usage ;;
esac
