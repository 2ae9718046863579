#!/bin/sh
# Installs the Debian packages given as arguments when any is missing.
# Runs apt-get only as root; otherwise names what to install and fails.
# Recommends are left out: the server's would pull in a mail transport
# whose set-up fails on a minimal system, and nothing here needs them.
missing=""
for p in "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "excon: missing Debian packages:$missing" >&2
	echo "excon: run 'sudo apt-get install -y$missing' or 'sudo make deps'" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null || {
	echo "excon: apt-get install failed for:$missing" >&2
	exit 1
}
