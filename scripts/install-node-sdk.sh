#!/usr/bin/env bash
# Installs the official Huawei Cloud Node.js SDK that tests/node-sdk runs against the service (the NodeSdkTests), exactly
# as tests/node-sdk/package-lock.json pins it. Needs node and npm (Debian: apt-get install nodejs npm). Idempotent: does
# nothing when the installed tree matches the lock file.
set -euo pipefail
cd "$(dirname "$0")/../tests/node-sdk"

if ! command -v npm >/dev/null 2>&1; then
  echo "npm is missing: install Node.js 18 or later (Debian: apt-get install nodejs npm)" >&2
  exit 1
fi
# The lock file that the installed tree was made from is kept beside it; when it is the current one, nothing is to do.
if cmp -s package-lock.json node_modules/.installed-from-lock.json 2>/dev/null; then
  exit 0
fi
npm ci --no-audit --no-fund
cp package-lock.json node_modules/.installed-from-lock.json
