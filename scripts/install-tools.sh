#!/usr/bin/env bash
# Installs the system tools the service and its tests need beyond the .NET SDK: qemu-img (Debian's qemu-utils), which
# reads uploaded qcow2 images. Idempotent: does nothing when the tools are there. Needs root (or sudo) to install.
set -euo pipefail

if command -v qemu-img >/dev/null 2>&1; then
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  as_root=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q
"${as_root[@]}" apt-get install -y -q --no-install-recommends qemu-utils
command -v qemu-img >/dev/null
