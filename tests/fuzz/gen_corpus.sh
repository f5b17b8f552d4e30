#!/bin/sh
# Regenerates the checked-in seed corpora under tests/fuzz/corpus/: binary
# seeds from the real encoders (gen_corpus.c), text seeds written here.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
c=$here/corpus
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for t in proto raft_wire token config json_body http_query; do
	rm -rf "${c:?}/$t"
	mkdir -p "$c/$t"
done

${CC:-cc} -std=c11 -D_GNU_SOURCE -I"$root" -o "$tmp/gen_corpus" \
    "$here/gen_corpus.c" "$root/proto/codec.c" "$root/proto/command.c" \
    "$root/proto/msg.c" "$root/proto/raft_wire.c" "$root/common/crypto.c" \
    -lcrypto -ljson-c
"$tmp/gen_corpus" "$c"

cp "$root/tests/config/good/minimal.yaml" "$c/config/minimal.yaml"
cp "$root/tests/config/good/forms.yaml" "$c/config/forms.yaml"
cp "$root/tests/config/good/example-3node.yaml" "$c/config/example-3node.yaml"
cp "$root/etc/insid-dev.yaml" "$c/config/insid-dev.yaml"

j=$c/json_body
printf '{"key":"user:1","value":"hello"}' >"$j/set"
printf '{"key":"k","old_value":"a","new_value":"b"}' >"$j/cas"
printf '{"key":"n","delta":-42}' >"$j/bump"
printf '{"key":"c","value":"v","ttl":"10s"}' >"$j/cache"
printf '{"prefix":"","offset":0,"limit":100}' >"$j/iterate"
printf '{"a":{"b":[1,2.5e3,true,false,null]},"s":"\\u00e9\\ud83d\\ude00\\n"}' \
    >"$j/nested"
printf '{"entity_name":"x","limits":{"bytes_on_disk":1024}}' >"$j/limits"

q=$c/http_query
printf 'key=user%%3A1' >"$q/key"
printf 'prefix=a+b&offset=10&limit=100' >"$q/iterate"
printf 'key=k&consistency=linearizable' >"$q/consistency"
printf 'offset=-9223372036854775808' >"$q/int_min"
printf 'key=%%C3%%A9t%%C3%%A9&key=second' >"$q/utf8"
printf 'Bearer insi_abc' >"$q/bearer"
printf '/db/api/v1/get' >"$q/path"
