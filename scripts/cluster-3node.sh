#!/bin/sh
# Runs the three nodes of etc/insid-3node.yaml on this machine.
#
#   scripts/cluster-3node.sh start    start node0, node1, node2 in the background
#   scripts/cluster-3node.sh stop     SIGTERM each by its pid file, wait for the exit
#   scripts/cluster-3node.sh status   say which node runs (exit 0 only if all do)
#
# Each node runs `insid -d -f etc/insid-3node.yaml -N nodeX`; its log goes to
# data/3node/nodeX.log and its pid to data/3node/nodeX.pid.  node0 is the
# default leader and bootstraps the cluster, the others auto-join.
#
# Environment (optional): INSID (the server binary, default
# build/supervisor/insid), CONFIG (default etc/insid-3node.yaml), RUN_DIR
# (logs and pid files, default data/3node), NODES (default
# "node0 node1 node2"), WAIT (seconds to wait for ready / exit, default 30).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
INSID=${INSID:-$root/build/supervisor/insid}
CONFIG=${CONFIG:-$root/etc/insid-3node.yaml}
RUN_DIR=${RUN_DIR:-$root/data/3node}
NODES=${NODES:-"node0 node1 node2"}
WAIT=${WAIT:-30}

usage() {
	echo "usage: $0 start|stop|status" >&2
	exit 2
}

# the pid in the node's pid file if that process is our insid for the node
node_pid() {
	pidfile=$RUN_DIR/$1.pid
	[ -r "$pidfile" ] || return 1
	pid=$(cat "$pidfile")
	case $pid in
	'' | *[!0-9]*) return 1 ;;
	esac
	[ -r "/proc/$pid/cmdline" ] || return 1
	# a reused pid belongs to another program: not ours
	tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "-N $1 " || return 1
	state=$(sed 's/^.*) //' "/proc/$pid/stat" | cut -d' ' -f1)
	[ "$state" != Z ] || return 1
	echo "$pid"
}

# waits until the log (past byte $2) says ready, or the process is gone
wait_ready() {
	n=$1 from=$2 pid=$3
	tries=$((WAIT * 5))
	while [ "$tries" -gt 0 ]; do
		if tail -c "+$((from + 1))" "$RUN_DIR/$n.log" |
		    grep -q ' info: ready$'; then
			return 0
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "$n: insid exited; last lines of $RUN_DIR/$n.log:" >&2
			tail -n 20 "$RUN_DIR/$n.log" >&2
			return 1
		fi
		sleep 0.2
		tries=$((tries - 1))
	done
	echo "$n: not ready after ${WAIT}s; see $RUN_DIR/$n.log" >&2
	return 1
}

start_node() {
	n=$1
	if pid=$(node_pid "$n"); then
		echo "$n: already running (pid $pid)"
		return 0
	fi
	log=$RUN_DIR/$n.log
	touch "$log"
	from=$(wc -c <"$log")
	"$INSID" -d -f "$CONFIG" -N "$n" </dev/null >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$RUN_DIR/$n.pid"
	echo "$n: started (pid $pid), log $log"
	# the nodes start together: readiness is waited for afterwards
	echo "$n $from $pid" >>"$RUN_DIR/.starting"
}

stop_node() {
	n=$1
	if ! pid=$(node_pid "$n"); then
		echo "$n: not running"
		rm -f "$RUN_DIR/$n.pid"
		return 0
	fi
	kill -TERM "$pid"
	tries=$((WAIT * 5))
	while node_pid "$n" >/dev/null && [ "$tries" -gt 0 ]; do
		sleep 0.2
		tries=$((tries - 1))
	done
	if node_pid "$n" >/dev/null; then
		echo "$n: pid $pid still running ${WAIT}s after SIGTERM" >&2
		return 1
	fi
	rm -f "$RUN_DIR/$n.pid"
	echo "$n: stopped (pid $pid)"
}

cmd_start() {
	[ -x "$INSID" ] || {
		echo "no insid binary at $INSID (build first, or set INSID)" >&2
		exit 1
	}
	mkdir -p "$RUN_DIR"
	rm -f "$RUN_DIR/.starting"
	for n in $NODES; do
		start_node "$n"
	done
	rc=0
	if [ -f "$RUN_DIR/.starting" ]; then
		while read -r n from pid; do
			wait_ready "$n" "$from" "$pid" || rc=1
		done <"$RUN_DIR/.starting"
		rm -f "$RUN_DIR/.starting"
	fi
	[ "$rc" -eq 0 ] && echo "all nodes ready"
	return "$rc"
}

cmd_stop() {
	rc=0
	for n in $NODES; do
		stop_node "$n" || rc=1
	done
	return "$rc"
}

cmd_status() {
	rc=0
	for n in $NODES; do
		if pid=$(node_pid "$n"); then
			echo "$n: running (pid $pid)"
		else
			echo "$n: stopped"
			rc=3
		fi
	done
	return "$rc"
}

[ $# -eq 1 ] || usage
case $1 in
start) cmd_start ;;
stop) cmd_stop ;;
status) cmd_status ;;
*) usage ;;
esac
