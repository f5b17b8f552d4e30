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
# undefined behaviour fails a test instead of only printing a report
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_suites build-asan -Db_sanitize=address,undefined -Db_lundef=false

echo "== fuzz (libFuzzer, 20 s per target)"
fuzz_failed=0
if ! tests/fuzz/run.sh 20 >build-fuzz.log 2>&1; then
	fuzz_failed=1
	status=1
fi
grep -E '^(PASS|FAIL)' build-fuzz.log || tail -40 build-fuzz.log

/usr/bin/python3 - "$fuzz_failed" build/meson-logs/testlog.json \
    build-asan/meson-logs/testlog.json <<'PY'
import json, sys
passed = failed = skipped = 0
# the fuzz run counts as one test
if sys.argv[1] == "0":
    passed += 1
else:
    failed += 1
for path in sys.argv[2:]:
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
