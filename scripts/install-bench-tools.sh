#!/bin/sh
# The peers the data-plane benchmark measures ours against, from Debian's packages (run as root).
# Installs only what is missing, so the bench can call it on every run at no cost.
set -eu
missing=""
command -v restic >/dev/null 2>&1 || missing="$missing restic"
command -v borg >/dev/null 2>&1 || missing="$missing borgbackup"
command -v qemu-img >/dev/null 2>&1 || missing="$missing qemu-utils"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-bench-tools: missing$missing; run this script as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # the package names are words on purpose
apt-get install -y -qq $missing
