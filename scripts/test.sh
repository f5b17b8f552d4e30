#!/bin/sh
# Installs what is missing, builds, and runs the whole test suite twice: a
# plain build and an address/undefined sanitizer build.  Prints the Check
# summaries and a closing "N passed, N failed" line over every test run.
set -u
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

status=0
run_suites() {
	dir=$1
	shift
	echo "== build $dir"
	if ! ./scripts/build.sh "$dir" "$@"; then
		echo "build of $dir failed"
		ninja -C "$dir" 2>&1 | tail -40
		status=1
		return
	fi
	echo "== tests in $dir"
	meson test -C "$dir" --print-errorlogs --num-processes 2 ||
	    status=1
	# Check's own summaries, one per unit test program
	grep -h '^[0-9]*%: Checks:' "$dir/meson-logs/testlog.txt" || true
}

run_suites build
run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false

/usr/bin/python3 - build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        lines = open(path).read().splitlines()
    except OSError:
        failed += 1
        continue
    for line in lines:
        r = json.loads(line).get("result")
        if r in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif r == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
exit $status
