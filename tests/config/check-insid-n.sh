#!/bin/sh
# insid -n on every example in etc/ (must print "configuration OK", exit 0)
# and on every tests/config/bad/N.yaml (must exit 1 and print exactly the
# error lines of N.err; N.opts holds -D overrides, one per line).
# usage: check-insid-n.sh path/to/insid source-root
set -u
insid=$(realpath "$1")
root=${2:-$(dirname "$0")/../..}
pass=0
fail=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

ok() {
	pass=$((pass + 1))
}

bad() {
	echo "FAIL $1: $2"
	sed 's/^/    | /' "$out"
	fail=$((fail + 1))
}

for f in "$root"/etc/*.yaml; do
	"$insid" -n -f "$f" >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		bad "$f" "exit $rc, want 0"
	elif ! grep -qx 'configuration OK' "$out"; then
		bad "$f" "no 'configuration OK' line"
	else
		ok
	fi
done

cd "$root/tests/config/bad" || exit 1
for f in *.yaml; do
	n=${f%.yaml}
	set -- -n -f "$f"
	if [ -f "$n.opts" ]; then
		while IFS= read -r o; do
			[ -n "$o" ] && set -- "$@" -D "$o"
		done <"$n.opts"
	fi
	"$insid" "$@" >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 1 ]; then
		bad "$f" "exit $rc, want 1"
		continue
	fi
	missing=0
	while IFS= read -r line; do
		[ -z "$line" ] && continue
		if ! grep -qxF -- "$line" "$out"; then
			echo "  $f: missing line: $line"
			missing=$((missing + 1))
		fi
	done <"$n.err"
	# no error lines beyond the expected ones
	want=$(grep -c . "$n.err")
	got=$(grep -cE "^($n\.yaml|-D):[0-9]+: " "$out")
	if [ "$missing" -ne 0 ]; then
		bad "$f" "$missing expected line(s) missing"
	elif [ "$got" -ne "$want" ]; then
		bad "$f" "$got error lines, want $want"
	else
		ok
	fi
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
