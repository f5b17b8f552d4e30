#!/bin/sh
# Installs every Debian package the build, the tests and the server need,
# and creates the _insidb system user when run as root.
set -eu

packages="meson ninja-build pkg-config gcc clang clang-format libclang-rt-14-dev
libevent-dev libssl-dev librocksdb-dev libyaml-dev libjson-c-dev libnng-dev
check libhttp-parser-dev libwslay-dev libseccomp-dev
python3 python3-websockets python3-cryptography curl"

missing=""
for p in $packages; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "setup: missing packages:$missing" >&2
		echo "setup: run as root (or with sudo) to install them" >&2
		exit 1
	fi
	echo "setup: installing$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ "$(id -u)" -eq 0 ] && ! getent passwd _insidb >/dev/null; then
	echo "setup: creating system user _insidb"
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin _insidb
fi
