#!/usr/bin/env bash
# mklogkey.sh [-f] OUTDIR
#
# The access-log signing key for ddbguard's signed digests (proxy/audit/logchain.h), made with the openssl CLI:
#   log-signing.key   Ed25519 private key, PEM (PKCS#8); config access_log.signing_key; mode 0600
#   log-signing.pub   its public key, PEM; give it to `ddbguard-log verify --pubkey` (keep a copy off the host)
#
# Idempotent: an existing key is kept unless -f is given. Keys are written with umask 077.
set -uo pipefail

usage() { echo "usage: $0 [-f] OUTDIR" >&2; exit 2; }
force=0 out=""
while (($#)); do
	case "$1" in
	-f|--force) force=1 ;;
	-h|--help) usage ;;
	-*) echo "unknown option: $1" >&2; usage ;;
	*) [[ -z "$out" ]] || usage; out="$1" ;;
	esac
	shift
done
[[ -n "$out" ]] || usage
command -v openssl >/dev/null || { echo "mklogkey: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
(umask 022 && mkdir -p "$out") || exit 1
key="$out/log-signing.key" pub="$out/log-signing.pub"
if [[ -e "$key" && $force -eq 0 ]]; then
	echo "mklogkey: $key exists (keeping it; -f makes a new one)" >&2
else
	openssl genpkey -algorithm ed25519 -out "$key.tmp" || { rm -f "$key.tmp"; echo "mklogkey: genpkey failed" >&2; exit 1; }
	mv -f "$key.tmp" "$key" || exit 1
fi
(umask 022 && openssl pkey -in "$key" -pubout -out "$pub") || { echo "mklogkey: cannot write $pub" >&2; exit 1; }
echo "$key"
echo "$pub"
