#!/bin/sh
# Fails when any C file differs from what .clang-format makes of it.
set -eu
cd "$1"
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); do
	if ! clang-format --style=file "$f" | cmp -s - "$f"; then
		echo "format drift: $f (run: clang-format -i $f)"
		bad=$((bad + 1))
	fi
done
total=$(git ls-files '*.c' '*.h' | wc -l)
echo "$((total - bad)) passed, $bad failed"
[ "$bad" -eq 0 ]
