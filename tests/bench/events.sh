#!/bin/sh
# Events benchmark on a three-node loopback cluster: SUBS subscribers
# (root key, one topic) spread over the three nodes, one publisher
# sending to the leader one event after the other as fast as answers
# come.  Reports events/s, frames delivered/s and the publish-to-receive
# latency.  Starts and stops its own nodes, by pid.
# Usage: tests/bench/events.sh [BUILD_DIR=build] [SECONDS=10] [SUBS=1000]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
secs=${2:-10}
subs=${3:-1000}
case $build in /*) ;; *) build="$top/$build" ;; esac
insid="$build/supervisor/insid"
tmp=$(mktemp -d)
pids=""
cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

cc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$tmp/events_load" \
    "$top/tests/bench/events_load.c" -levent -lpthread

secret="bench-secret-0123456789abcdef"
cat >"$tmp/bench.yaml" <<YAML
instance_secret: "$secret"
default_leader: node0
insid_home: $tmp/home
control_socket: $tmp/insid-{node}.sock
rate_limiters:
  events: {limit: 10000000, burst: 10000000}
  system: {limit: 10000000, burst: 10000000}
sessions:
  max_connections: 10000
logging:
  level: warn
nodes:
  node0: {public_binding: 127.0.0.1:18080, private_binding: 127.0.0.1:18081, raft_binding: 127.0.0.1:17000}
  node1: {public_binding: 127.0.0.1:18082, private_binding: 127.0.0.1:18083, raft_binding: 127.0.0.1:17001}
  node2: {public_binding: 127.0.0.1:18084, private_binding: 127.0.0.1:18085, raft_binding: 127.0.0.1:17002}
YAML
for n in 0 1 2; do
	"$insid" -d -f "$tmp/bench.yaml" -N node$n 2>"$tmp/node$n.log" &
	pids="$pids $!"
done
token=$(printf %s "$secret" | sha256sum | cut -c1-64 | tr -d '\n' | base64 -w0)

i=0
until curl -sf -H "Authorization: Bearer $token" \
    http://127.0.0.1:18081/db/api/v1/admin/cluster 2>/dev/null |
    /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v["leader"] and sum(1 for n in v["nodes"] if n["voter"])==3 else 1)'; do
	i=$((i + 1))
	[ $i -lt 300 ] || { tail -20 "$tmp"/node*.log; exit 1; }
	sleep 0.1
done
leader=$(curl -sf -H "Authorization: Bearer $token" \
    http://127.0.0.1:18081/db/api/v1/admin/cluster |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
lport=$((18080 + 2 * ${leader#node}))
echo "leader $leader (:$lport)"
"$tmp/events_load" "$token" "$lport" 18080,18082,18084 "$subs" "$secs"
