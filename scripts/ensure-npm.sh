#!/usr/bin/env bash
# Installs the UI's npm packages when they are missing or package-lock.json changed since.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
stamp=node_modules/.package-lock.json
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  npm ci --no-audit --no-fund
fi
