#!/bin/sh
# Blob throughput against the disk: `dd conv=fsync` into the temp dir
# (1 GiB, 100 MiB, and SMALL files of 1 MiB, one dd each) before and
# after the runs, and in between, on a single node and on a three-node
# loopback cluster (uploads to the leader): SMALL sequential 1 MiB
# uploads and downloads over one kept-alive curl connection (MiB/s and
# ops/s), and BIG sequential 100 MiB uploads and downloads (MiB/s each).
# An upload is timed until its reply (the metadata is committed; the
# followers fetch the bytes afterwards); on the cluster the script also
# times, from the reply, until the file is in place on both followers.
# Uploads send the key part before the blob part.  Root key, rate limits
# raised.  Starts and stops its own nodes, by pid.
# Usage: tests/bench/blobs.sh [BUILD_DIR=build] [SMALL=200] [BIG=3]
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-build}
small=${2:-200}
big=${3:-3}
case $build in /*) ;; *) build="$top/$build" ;; esac
insid="$build/supervisor/insid"
# the temp dir holds the nodes' homes and dd's target: one filesystem
tmp=$(mktemp -d)
pids=""
stop_nodes() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	for p in $pids; do wait "$p" 2>/dev/null || true; done
	pids=""
}
cleanup() {
	stop_nodes
	rm -rf "$tmp"
}
trap cleanup EXIT
trap "exit 1" INT TERM

secret="bench-secret-0123456789abcdef"
token=$(printf %s "$secret" | sha256sum | cut -c1-64 | tr -d '\n' | base64 -w0)
mib=1048576
now() { date +%s.%N; }
# rate MIB SECONDS
rate() { awk -v m="$1" -v s="$2" 'BEGIN { printf "%.1f", m / s }'; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# dd LABEL COUNT: MiB/s of COUNT MiB written and fsynced
disk_rate() {
	out=$(dd if=/dev/zero of="$tmp/dd.bin" bs=1M count="$2" conv=fsync 2>&1 |
	    tail -1)
	rm -f "$tmp/dd.bin"
	secs=$(echo "$out" | sed 's/.* copied, \([0-9.]*\) s,.*/\1/')
	echo "dd $1: $2 MiB in $secs s = $(rate "$2" "$secs") MiB/s"
}

# disk_small COUNT: COUNT files of 1 MiB, each written and fsynced by
# its own dd, the disk's counterpart of sequential 1 MiB uploads
disk_small() {
	t0=$(now)
	k=1
	while [ $k -le "$1" ]; do
		dd if=/dev/zero of="$tmp/dd-$k.bin" bs=1M count=1 conv=fsync \
		    2>/dev/null
		k=$((k + 1))
	done
	secs=$(elapsed "$t0" "$(now)")
	rm -f "$tmp"/dd-*.bin
	echo "dd $1 x 1 MiB files: $secs s = $(rate "$1" "$secs") MiB/s"
}

head -c $mib /dev/urandom >"$tmp/small.bin"
head -c $((100 * mib)) /dev/urandom >"$tmp/big.bin"
big_hash=$(sha256sum <"$tmp/big.bin" | cut -c1-64)
t0=$(now)
openssl dgst -sha256 "$tmp/big.bin" >/dev/null
echo "sha-256 (openssl) of 100 MiB in page cache: $(elapsed "$t0" "$(now)") s"

echo "== disk, before"
disk_rate "1 GiB" 1024
disk_rate "100 MiB" 100
disk_small "$small"

# write_config FILE NODES
write_config() {
	cat >"$1" <<YAML
instance_secret: "$secret"
default_leader: node0
insid_home: $tmp/home$2
control_socket: $tmp/insid$2-{node}.sock
rate_limiters:
  values: {limit: 10000000, burst: 10000000}
  system: {limit: 10000000, burst: 10000000}
blobs:
  max_size: 256MiB
logging:
  level: warn
nodes:
YAML
	n=0
	while [ $n -lt "$2" ]; do
		echo "  node$n: {public_binding: 127.0.0.1:$((18280 + 2 * n)), private_binding: 127.0.0.1:$((18281 + 2 * n)), raft_binding: 127.0.0.1:$((17100 + n))}" >>"$1"
		n=$((n + 1))
	done
}

# start_nodes COUNT: starts them and waits for COUNT voters and a leader
start_nodes() {
	write_config "$tmp/bench$1.yaml" "$1"
	n=0
	while [ $n -lt "$1" ]; do
		"$insid" -d -f "$tmp/bench$1.yaml" -N node$n \
		    2>"$tmp/node$n-of$1.log" &
		pids="$pids $!"
		n=$((n + 1))
	done
	i=0
	until curl -sf -H "Authorization: Bearer $token" \
	    http://127.0.0.1:18281/db/api/v1/admin/cluster 2>/dev/null |
	    /usr/bin/python3 -c 'import json,sys; v=json.load(sys.stdin); sys.exit(0 if v["leader"] and sum(1 for n in v["nodes"] if n["voter"])=='"$1"' else 1)' 2>/dev/null; do
		i=$((i + 1))
		[ $i -lt 300 ] || { tail -20 "$tmp"/node*-of"$1".log; exit 1; }
		sleep 0.1
	done
	leader=$(curl -sf -H "Authorization: Bearer $token" \
	    http://127.0.0.1:18281/db/api/v1/admin/cluster |
	    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["leader"])')
	lport=$((18280 + 2 * ${leader#node}))
}

# curl config for COUNT transfers of kind up|down of keys PREFIX-i,
# i from FIRST (1)
transfers() {
	t=${5:-1}
	while [ "$t" -lt $((${5:-1} + $1)) ]; do
		echo 'header = "Authorization: Bearer '"$token"'"'
		if [ "$2" = up ]; then
			echo "url = \"http://127.0.0.1:$lport/db/api/v1/blob/set\""
			echo "form = \"key=$3-$t\""
			echo "form = \"blob=@$4\""
		else
			echo "url = \"http://127.0.0.1:$lport/db/api/v1/blob/get?key=$3-$t\""
		fi
		echo 'output = "/dev/null"'
		printf '%s\n' 'write-out = "%{http_code} %{size_download} %{time_total}\n"'
		[ "$t" -eq $((${5:-1} + $1 - 1)) ] || echo next
		t=$((t + 1))
	done
}

# run_transfers COUNT up|down PREFIX FILE MIB_EACH LABEL
run_transfers() {
	transfers "$1" "$2" "$3" "$4" >"$tmp/curl.cfg"
	t0=$(now)
	curl -s -K "$tmp/curl.cfg" >"$tmp/codes"
	secs=$(elapsed "$t0" "$(now)")
	bad=$(grep -cv '^200 ' "$tmp/codes" || true)
	[ "$bad" -eq 0 ] || { echo "$6: $bad non-200 replies:";
	    sort "$tmp/codes" | uniq -c | sort -rn | head -5; exit 1; }
	if [ "$2" = down ]; then
		short=$(awk -v want=$(($5 * mib)) '$2 != want' "$tmp/codes" | wc -l)
		[ "$short" -eq 0 ] || { echo "$6: $short wrong sizes"; exit 1; }
	fi
	echo "$6: $1 x $5 MiB in $secs s = $(rate $(($1 * $5)) "$secs") MiB/s," \
	    "$(rate "$1" "$secs") ops/s; per op ms" \
	    "$(sort -n -k3 "$tmp/codes" | awk '{ t[NR] = $3 * 1000 }
	    END { printf "p50 %.1f p99 %.1f max %.1f", t[int(NR * 0.5 + 0.5)],
	    t[int(NR * 0.99 + 0.5)], t[NR] }')"
}

# blob_path NODE KEY
blob_path() { echo "$tmp/home$nodes/$1/blobs/root/$(printf %s "$2" | sha256sum | cut -c1-64)"; }
# wait_followers KEY SIZE: until the file is in place on every follower
wait_followers() {
	for f in $followers; do
		p=$(blob_path "$f" "$1")
		polls=0
		until [ "$(stat -c %s "$p" 2>/dev/null || echo -1)" = "$2" ]; do
			polls=$((polls + 1))
			[ $polls -lt 30000 ] || { echo "$1 never reached $f"; exit 1; }
			sleep 0.01
		done
	done
}

# bench_node LABEL
bench_node() {
	run_transfers "$small" up s "$tmp/small.bin" 1 "$1 upload 1 MiB"
	t_last=$(now)
	if [ -n "$followers" ]; then
		for k in $(seq 1 "$small"); do wait_followers "s-$k" $mib; done
		echo "$1 all 1 MiB blobs on both followers $(elapsed "$t_last" "$(now)") s after the last reply"
	fi
	run_transfers "$small" down s "$tmp/small.bin" 1 "$1 download 1 MiB"
	i=1
	while [ $i -le "$big" ]; do
		transfers 1 up b "$tmp/big.bin" $i >"$tmp/curl.cfg"
		t0=$(now)
		code=$(curl -s -K "$tmp/curl.cfg")
		t1=$(now)
		[ "${code%% *}" = 200 ] || { echo "upload b-$i: $code"; exit 1; }
		secs=$(elapsed "$t0" "$t1")
		line="$1 upload 100 MiB #$i: $secs s = $(rate 100 "$secs") MiB/s"
		if [ -n "$followers" ]; then
			wait_followers "b-$i" $((100 * mib))
			line="$line; on both followers $(elapsed "$t1" "$(now)") s later"
		fi
		echo "$line"
		i=$((i + 1))
	done
	i=1
	while [ $i -le "$big" ]; do
		t0=$(now)
		out=$(curl -s -H "Authorization: Bearer $token" -o - \
		    "http://127.0.0.1:$lport/db/api/v1/blob/get?key=b-$i" |
		    sha256sum | cut -c1-64)
		secs=$(elapsed "$t0" "$(now)")
		[ "$out" = "$big_hash" ] || { echo "download b-$i: wrong bytes"; exit 1; }
		echo "$1 download 100 MiB #$i: $secs s = $(rate 100 "$secs") MiB/s (piped to sha256sum)"
		i=$((i + 1))
	done
	i=1
	while [ $i -le "$big" ]; do
		t0=$(now)
		curl -sf -H "Authorization: Bearer $token" -o /dev/null \
		    "http://127.0.0.1:$lport/db/api/v1/blob/get?key=b-$i"
		secs=$(elapsed "$t0" "$(now)")
		echo "$1 download 100 MiB #$i: $secs s = $(rate 100 "$secs") MiB/s (to /dev/null)"
		i=$((i + 1))
	done
}

echo "== single node"
nodes=1
followers=""
start_nodes 1
bench_node "1node"
stop_nodes

echo "== three nodes"
nodes=3
start_nodes 3
followers=""
for n in node0 node1 node2; do
	[ "$n" = "$leader" ] || followers="$followers $n"
done
echo "leader $leader (:$lport), followers$followers"
bench_node "3node"
stop_nodes

echo "== disk, after"
disk_rate "1 GiB" 1024
disk_rate "100 MiB" 100
disk_small "$small"
