#!/bin/sh
# Installs what is missing, builds, and runs a single-node server in the
# foreground with etc/insid-dev.yaml (data under ./data/dev).  Ctrl-C stops.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
./scripts/build.sh build
cat <<TXT
insid: starting single-node server (etc/insid-dev.yaml, data in ./data/dev)
insid: root key: build/supervisor/insidbctl -f etc/insid-dev.yaml rootkey
insid: try:      curl -s -H "Authorization: Bearer \$(build/supervisor/insidbctl -f etc/insid-dev.yaml rootkey)" http://127.0.0.1:8080/db/api/v1/ping
TXT
exec build/supervisor/insid -d -f etc/insid-dev.yaml
