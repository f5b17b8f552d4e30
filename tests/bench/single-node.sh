#!/bin/sh
# Single-node InsiDB write benchmark: starts a node on loopback with rate
# limits far above the load, runs wrk `set` at 1 and 64 connections, stops
# the node.  Usage: tests/bench/single-node.sh [BUILD_DIR=build] [SECONDS=10]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
secs=${2:-10}
case $build in /*) ;; *) build="$top/$build" ;; esac
insid="$build/supervisor/insid"
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT

cat >"$tmp/bench.yaml" <<YAML
instance_secret: "bench-secret-0123456789abcdef"
default_leader: node0
insid_home: $tmp/home
control_socket: $tmp/insid.sock
rate_limiters:
  values: {limit: 10000000, burst: 10000000}
logging:
  level: warn
nodes:
  node0:
    public_binding: 127.0.0.1:18080
    private_binding: 127.0.0.1:18081
    raft_binding: 127.0.0.1:17000
YAML
"$insid" -d -f "$tmp/bench.yaml" 2>"$tmp/insid.log" &
pid=$!
token=$(printf %s "bench-secret-0123456789abcdef" | sha256sum | cut -c1-64 |
    tr -d '\n' | base64 -w0)
i=0
until curl -sf -H "Authorization: Bearer $token" \
    http://127.0.0.1:18080/db/api/v1/ping >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$tmp/insid.log"; exit 1; }
	sleep 0.1
done
export TOKEN="$token"
wrk -t2 -c64 -d2s -s "$top/tests/bench/set.lua" http://127.0.0.1:18080 >/dev/null
for c in 1 64; do
	t=2
	[ "$c" -gt 1 ] || t=1
	printf 'insidb 1node set c=%s ' "$c"
	wrk -t$t -c$c -d"${secs}s" -s "$top/tests/bench/set.lua" \
	    http://127.0.0.1:18080 | grep '^RESULT'
done
