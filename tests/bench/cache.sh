#!/bin/sh
# Single-node cache benchmark with an entity key: `cache/set` and
# `cache/get` at 64 connections (100-byte values, 10k keys).  Per-IP rate
# limits are raised in the config; the key's limits (data rate, memory) are
# raised with admin/limits/set.  Starts and stops its own node, by pid.
# Usage: tests/bench/cache.sh [BUILD_DIR=build] [SECONDS=10]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
secs=${2:-10}
case $build in /*) ;; *) build="$top/$build" ;; esac
insid="$build/supervisor/insid"
tmp=$(mktemp -d)
pid=""
trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi; rm -rf "$tmp"' EXIT

secret="bench-secret-0123456789abcdef"
cat >"$tmp/bench.yaml" <<YAML
instance_secret: "$secret"
default_leader: node0
insid_home: $tmp/home
control_socket: $tmp/insid.sock
rate_limiters:
  cache: {limit: 10000000, burst: 10000000}
  system: {limit: 10000000, burst: 10000000}
logging:
  level: warn
nodes:
  node0: {public_binding: 127.0.0.1:18080, private_binding: 127.0.0.1:18081, raft_binding: 127.0.0.1:17000}
YAML
"$insid" -d -f "$tmp/bench.yaml" 2>"$tmp/insid.log" &
pid=$!
root=$(printf %s "$secret" | sha256sum | cut -c1-64 | tr -d '\n' | base64 -w0)
i=0
until curl -sf -H "Authorization: Bearer $root" \
    http://127.0.0.1:18080/db/api/v1/ping >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$tmp/insid.log"; exit 1; }
	sleep 0.1
done
key=$(curl -sf -H "Authorization: Bearer $root" -d '{"key_name":"bench"}' \
    http://127.0.0.1:18081/db/api/v1/admin/api/create |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
body=$(printf '{"api_key":"%s","limits":{"bytes_in_memory":1073741824,"rate_per_second_data_limit":10000000}}' "$key")
curl -sf -H "Authorization: Bearer $root" -d "$body" \
    http://127.0.0.1:18081/db/api/v1/admin/limits/set >/dev/null
export TOKEN="$key" SET_PATH=/db/api/v1/cache/set GET_PATH=/db/api/v1/cache/get
/usr/bin/python3 "$top/tests/bench/preload.py" 127.0.0.1 18080 "$key" 10000 \
    /db/api/v1/cache/set
wrk -t2 -c64 -d2s -s "$top/tests/bench/get.lua" http://127.0.0.1:18080 >/dev/null
printf 'insidb 1node cache/set entity c=64 '
wrk -t2 -c64 -d"${secs}s" -s "$top/tests/bench/set.lua" http://127.0.0.1:18080 |
    grep '^RESULT'
printf 'insidb 1node cache/get entity c=64 '
wrk -t2 -c64 -d"${secs}s" -s "$top/tests/bench/get.lua" http://127.0.0.1:18080 |
    grep '^RESULT'
