#!/usr/bin/env bash
# mkcerts.sh [-f] [--rogue] [--san ENTRY,...] OUTDIR
#
# Development certificates for ddbguard, made with the openssl CLI (EC P-256, SHA-256):
#   ca.crt ca.key          a private CA (CA:TRUE, pathlen:0, keyCertSign+cRLSign, 10 years)
#   server.crt server.key  signed by it: SAN DNS:localhost, IP:127.0.0.1, IP:::1, EKU serverAuth (397 days)
#   client.crt client.key  signed by it: CN=ddbguard-dev-client, EKU clientAuth (397 days), for mTLS
#
# Idempotent: files that exist are kept unless -f is given (a new CA re-issues both leaves).
# --rogue   names the CA "ddbguard rogue CA": run it into another OUTDIR to get a CA that nothing
#           trusts, e.g. an upstream whose certificate must fail verification in tests.
# --san     extra subjectAltName entries for the server cert, e.g. --san DNS:ddbguard.internal,IP:10.0.0.5
# Keys are written with umask 077. These certificates are for development and tests only.
set -uo pipefail

usage() { echo "usage: $0 [-f] [--rogue] [--san ENTRY,...] OUTDIR" >&2; exit 2; }
force=0 rogue=0 extra_san="" out=""
while (($#)); do
	case "$1" in
	-f|--force) force=1 ;;
	--rogue) rogue=1 ;;
	--san) [[ $# -ge 2 ]] || usage; extra_san="$2"; shift ;;
	-h|--help) usage ;;
	-*) echo "unknown option: $1" >&2; usage ;;
	*) [[ -z "$out" ]] || usage; out="$1" ;;
	esac
	shift
done
[[ -n "$out" ]] || usage
command -v openssl >/dev/null || { echo "mkcerts: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
(umask 022 && mkdir -p "$out") || exit 1
out="$(cd "$out" && pwd)" || exit 1
tmp="$(mktemp -d)" || exit 1
trap 'rm -rf "$tmp"' EXIT

die() { echo "mkcerts: $*" >&2; exit 1; }
ca_cn="ddbguard dev CA"
((rogue)) && ca_cn="ddbguard rogue CA"
# A serial that differs between runs, so a re-issued leaf never collides with an old one in a client cache.
ca_cn="$ca_cn $(openssl rand -hex 4)"

newkey() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>"$tmp/err" ||
	die "cannot make key $1: $(cat "$tmp/err")"; }

made=()
ca_new=0
if ((force)) || [[ ! -s "$out/ca.crt" || ! -s "$out/ca.key" ]]; then
	newkey "$out/ca.key"
	openssl req -new -x509 -sha256 -days 3650 -key "$out/ca.key" -out "$out/ca.crt" \
		-subj "/O=ddbguard development/CN=$ca_cn" \
		-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" 2>"$tmp/err" || die "cannot make CA: $(cat "$tmp/err")"
	chmod 644 "$out/ca.crt"
	ca_new=1
	made+=("ca.crt ca.key")
fi

# leaf NAME CN EKU SAN
leaf() {
	local name="$1" cn="$2" eku="$3" san="$4"
	if ((!force && !ca_new)) && [[ -s "$out/$name.crt" && -s "$out/$name.key" ]]; then
		return 0
	fi
	newkey "$out/$name.key"
	openssl req -new -sha256 -key "$out/$name.key" -subj "/O=ddbguard development/CN=$cn" \
		-out "$tmp/$name.csr" 2>"$tmp/err" || die "cannot make $name CSR: $(cat "$tmp/err")"
	{
		echo "basicConstraints=critical,CA:FALSE"
		echo "keyUsage=critical,digitalSignature"
		echo "extendedKeyUsage=$eku"
		echo "subjectKeyIdentifier=hash"
		echo "authorityKeyIdentifier=keyid"
		[[ -n "$san" ]] && echo "subjectAltName=$san"
	} >"$tmp/$name.ext"
	openssl x509 -req -sha256 -days 397 -in "$tmp/$name.csr" -CA "$out/ca.crt" -CAkey "$out/ca.key" \
		-set_serial "0x$(openssl rand -hex 16)" -extfile "$tmp/$name.ext" -out "$out/$name.crt" \
		2>"$tmp/err" || die "cannot sign $name: $(cat "$tmp/err")"
	chmod 644 "$out/$name.crt"
	openssl verify -CAfile "$out/ca.crt" "$out/$name.crt" >/dev/null 2>&1 || die "$name.crt does not verify"
	made+=("$name.crt $name.key")
}

san="DNS:localhost,IP:127.0.0.1,IP:::1"
[[ -n "$extra_san" ]] && san="$san,$extra_san"
leaf server localhost serverAuth "$san"
leaf client ddbguard-dev-client clientAuth ""

if ((${#made[@]})); then
	echo "mkcerts: made in $out: ${made[*]}"
	echo "mkcerts: CA $(openssl x509 -in "$out/ca.crt" -noout -subject -enddate | tr '\n' ' ')"
	echo "mkcerts: server SAN $san"
else
	echo "mkcerts: $out already has ca, server and client certificates (use -f to replace them)"
fi
