#!/bin/sh
# Builds the libFuzzer targets with clang in their own directory (the
# meson/gcc build is untouched) and runs each for SECONDS on a copy of its
# checked-in corpus.  Exits non-zero when any target crashes or fails to
# build.  Usage: tests/fuzz/run.sh [SECONDS_PER_TARGET=20] [TARGET...]
set -u

secs=${1:-20}
[ $# -gt 0 ] && shift
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${FUZZ_BUILD_DIR:-$root/build-fuzz}
cc=${FUZZ_CC:-clang}
all="proto raft_wire token config json_body http_query multipart"
targets=${*:-$all}

case $secs in
''|*[!0-9]*) echo "run.sh: SECONDS must be a whole number" >&2; exit 2 ;;
esac
command -v "$cc" >/dev/null || { echo "run.sh: $cc not found" >&2; exit 2; }

san="-fsanitize=address,undefined -fno-sanitize-recover=all"
cflags="-std=c11 -g -O1 -fno-omit-frame-pointer -D_GNU_SOURCE -I$root $san"
cflags="$cflags -Wall -Wextra -Wno-unused-parameter"

# project sources each target links, beyond its own file
srcs_proto="proto/codec.c proto/command.c proto/msg.c"
srcs_raft_wire="proto/codec.c proto/raft_wire.c"
srcs_token="common/crypto.c"
libs_token="-lcrypto -ljson-c"
srcs_config="common/config.c common/config_yaml.c common/config_value.c
    common/config_env.c common/log.c proto/codec.c"
libs_config="-lyaml -lcrypto -lssl -lm"
srcs_json_body="apid/json_body.c apid/http_parse.c proto/codec.c"
srcs_http_query="apid/http_parse.c apid/routes.c proto/codec.c"
srcs_multipart="apid/multipart.c"

# stack traces for undefined-behaviour reports too
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# objects are rebuilt every run: a changed header must never go unseen
rm -rf "$out/obj"
mkdir -p "$out/obj" "$out/run" "$out/artifacts" || exit 2

# compiles one project source once per run, with coverage hooks
obj() {
	o="$out/obj/$(echo "$1" | tr / _).o"
	if [ ! -f "$o" ]; then
		"$cc" $cflags -fsanitize=fuzzer-no-link -c "$root/$1" -o "$o" ||
		    return 1
	fi
	echo "$o"
}

build() {
	eval "srcs=\$srcs_$1"
	eval "libs=\${libs_$1:-}"
	objs=""
	for s in $srcs; do
		o=$(obj "$s") || return 1
		objs="$objs $o"
	done
	"$cc" $cflags -fsanitize=fuzzer "$here/fuzz_$1.c" $objs $libs \
	    -o "$out/fuzz_$1"
}

passed=0
failed=0
for t in $targets; do
	if ! build "$t"; then
		echo "FAIL $t: build"
		failed=$((failed + 1))
		continue
	fi
	# a copy: new inputs the fuzzer finds never land in the repository
	rm -rf "$out/run/$t"
	mkdir -p "$out/run/$t"
	if [ -d "$here/corpus/$t" ]; then
		cp "$here/corpus/$t"/* "$out/run/$t/" 2>/dev/null
	fi
	log="$out/fuzz_$t.log"
	if "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 \
	    -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
	    -artifact_prefix="$out/artifacts/$t-" "$out/run/$t" >"$log" 2>&1; then
		echo "PASS $t: $(grep -o 'stat::number_of_executed_units: *[0-9]*' \
		    "$log" | grep -o '[0-9]*$') runs in ${secs}s"
		passed=$((passed + 1))
	else
		echo "FAIL $t: see $log"
		# the sanitizer report and the reproducer, not the progress lines
		awk '/==ERROR|runtime error|deadly signal|fuzz target exited/ \
		    { on = 1 } on && n++ < 30' "$log"
		grep -E 'SUMMARY|Test unit written|^Base64' "$log"
		failed=$((failed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
