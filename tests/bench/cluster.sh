#!/bin/sh
# Three-node InsiDB benchmark on loopback with the workload of the etcd
# baseline (100-byte values, 10k keys): `set` on the leader at 1 and 64
# connections, `get` on a follower at 64 connections.  Rate limits are
# raised far above the load.  Starts and stops its own nodes, by pid.
# Usage: tests/bench/cluster.sh [BUILD_DIR=build] [SECONDS=10]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
secs=${2:-10}
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

secret="bench-secret-0123456789abcdef"
cat >"$tmp/bench.yaml" <<YAML
instance_secret: "$secret"
default_leader: node0
insid_home: $tmp/home
control_socket: $tmp/insid-{node}.sock
rate_limiters:
  values: {limit: 10000000, burst: 10000000}
  system: {limit: 10000000, burst: 10000000}
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
export TOKEN="$token"

# wait until node0 reports three voters and a leader
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
port_of() { echo $((18080 + 2 * ${1#node})); }
lport=$(port_of "$leader")
follower=node0
[ "$leader" != node0 ] || follower=node1
fport=$(port_of "$follower")
echo "leader $leader (:$lport), follower $follower (:$fport)"

# preload every key, then warm up
/usr/bin/python3 "$top/tests/bench/preload.py" 127.0.0.1 "$lport" "$token"
wrk -t2 -c64 -d3s -s "$top/tests/bench/set.lua" "http://127.0.0.1:$lport" >/dev/null
run() {
	name=$1 c=$2 script=$3 port=$4
	t=2
	[ "$c" -gt 1 ] || t=1
	printf 'insidb %s c=%s ' "$name" "$c"
	wrk -t$t -c"$c" -d"${secs}s" -s "$top/tests/bench/$script" \
	    "http://127.0.0.1:$port" | grep '^RESULT'
}
run "3node set leader" 1 set.lua "$lport"
run "3node set leader" 64 set.lua "$lport"
run "3node get follower" 64 get.lua "$fport"
