#!/usr/bin/env bash
# deploy/ensure-packages.sh PKG...
#
# Installs the Debian packages among PKG that are not installed yet (apt-get update only when something
# is missing), as root or through sudo. The pseudo-package "node" stands for nodejs + npm and is only
# installed when the `node` command is missing: a node from elsewhere (nodesource, nvm) ships its own
# npm, and Debian's npm package would conflict with it.
# Used by deploy/quickstart.sh and tests/run.sh. Exits non-zero if something could not be installed.
set -uo pipefail

missing=()
for p in "$@"; do
	if [[ "$p" == node ]]; then
		command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
		continue
	fi
	# dpkg-query prints the status even for packages that are known but not installed.
	status="$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null)"
	[[ "$status" == ii* ]] || missing+=("$p")
done
if command -v node >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
	echo "ensure-packages: node is installed ($(command -v node)) but npm is not; install npm from the same place as node" >&2
	exit 1
fi
((${#missing[@]})) || exit 0

echo "ensure-packages: installing missing packages: ${missing[*]}"
if ! command -v apt-get >/dev/null 2>&1; then
	echo "ensure-packages: no apt-get here; install these yourself: ${missing[*]}" >&2
	exit 1
fi
sudo=()
if [[ "$(id -u)" != 0 ]]; then
	if ! command -v sudo >/dev/null 2>&1; then
		echo "ensure-packages: not root and no sudo; as root run: apt-get install ${missing[*]}" >&2
		exit 1
	fi
	sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -q || exit 1
"${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" || exit 1
