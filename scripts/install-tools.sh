#!/usr/bin/env bash
# Installs the system tools the service and its tests need beyond the .NET SDK: qemu-img (Debian's qemu-utils), which
# reads uploaded qcow2 images, and the OpenStack clients the client tests run against the service (the `openstack` CLI
# with openstacksdk, the `glance` CLI), and the S3 clients the bucket API tests drive (`s3cmd`, `aws`). Idempotent: does nothing when the tools are there. Needs root (or sudo).
set -euo pipefail

packages=()
command -v qemu-img >/dev/null 2>&1 || packages+=(qemu-utils)
command -v openstack >/dev/null 2>&1 || packages+=(python3-openstackclient)
command -v glance >/dev/null 2>&1 || packages+=(python3-glanceclient)
/usr/bin/python3 -c 'import openstack' >/dev/null 2>&1 || packages+=(python3-openstacksdk)
command -v s3cmd >/dev/null 2>&1 || packages+=(s3cmd)
command -v aws >/dev/null 2>&1 || packages+=(awscli)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${packages[@]}"
command -v qemu-img >/dev/null
command -v openstack >/dev/null
command -v glance >/dev/null
command -v s3cmd >/dev/null
command -v aws >/dev/null
