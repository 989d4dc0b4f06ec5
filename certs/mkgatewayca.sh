#!/usr/bin/env bash
# mkgatewayca.sh [-f] [--days N] OUTDIR
#
# Makes the CA that ddbguard's egress gateway mints its tunnel certificates from (config: egress.ca_cert,
# egress.ca_key):
#   gateway-ca.crt   EC P-256 self-signed CA: CA:TRUE pathlen:0, keyUsage keyCertSign+cRLSign, and a
#                    critical nameConstraints extension that permits DNS names under amazonaws.com and
#                    amazonaws.com.cn only (and excludes every IP address). A client that checks name
#                    constraints (OpenSSL, Go, Java, browsers) rejects any certificate this CA signs for
#                    another name, so a stolen key cannot impersonate arbitrary sites to those clients.
#   gateway-ca.key   its private key (written with umask 077)
#
# Handing gateway-ca.crt to applications (the certificate only, never the key):
#   - AWS CLI and SDKs:  AWS_CA_BUNDLE=/path/gateway-ca.crt together with HTTPS_PROXY=http://<gateway>:<port>
#                        (or ca_bundle = /path/gateway-ca.crt in ~/.aws/config). boto3 also accepts
#                        verify="/path/gateway-ca.crt" and Config(proxies={"https": "http://<gateway>:<port>"}).
#   - Python requests:   REQUESTS_CA_BUNDLE=/path/gateway-ca.crt
#   - Anything else:     append it to the system store, e.g. Debian/Ubuntu: copy it to
#                        /usr/local/share/ca-certificates/ddbguard-gateway.crt and run update-ca-certificates.
#     The name constraints keep that trust narrow: it only vouches for AWS endpoint names.
# The key must stay on the gateway host (readable by the ddbguard user only): whoever holds it can mint
# certificates for DynamoDB endpoint names that every client trusting this CA accepts.
#
# Idempotent: an existing pair is kept unless -f is given. --days sets the CA lifetime (default 1825).
set -uo pipefail

usage() { echo "usage: $0 [-f] [--days N] OUTDIR" >&2; exit 2; }
force=0 days=1825 out=""
while (($#)); do
	case "$1" in
	-f|--force) force=1 ;;
	--days) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]{0,4}$ ]] || usage; days="$2"; shift ;;
	-h|--help) usage ;;
	-*) echo "unknown option: $1" >&2; usage ;;
	*) [[ -z "$out" ]] || usage; out="$1" ;;
	esac
	shift
done
[[ -n "$out" ]] || usage
command -v openssl >/dev/null || { echo "mkgatewayca: openssl not found (apt-get install openssl)" >&2; exit 1; }

umask 077
(umask 022 && mkdir -p "$out") || exit 1
out="$(cd "$out" && pwd)" || exit 1
tmp="$(mktemp -d)" || exit 1
trap 'rm -rf "$tmp"' EXIT
die() { echo "mkgatewayca: $*" >&2; exit 1; }

crt="$out/gateway-ca.crt" key="$out/gateway-ca.key"
if ((!force)) && [[ -s "$crt" && -s "$key" ]]; then
	echo "mkgatewayca: $out already has gateway-ca.crt and gateway-ca.key (use -f to replace them)"
	exit 0
fi

# RFC 5280 4.2.1.10: a DNS constraint "amazonaws.com" permits that name and every name below it. Permitted
# subtrees only constrain the name types they list, so IP addresses are excluded explicitly.
constraints="critical,permitted;DNS:amazonaws.com,permitted;DNS:amazonaws.com.cn"
constraints="$constraints,excluded;IP:0.0.0.0/0.0.0.0,excluded;IP:0:0:0:0:0:0:0:0/0:0:0:0:0:0:0:0"

# Write to temporaries and rename, so a failure never leaves a key without its certificate (or the reverse).
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/ca.key" 2>"$tmp/err" ||
	die "cannot make the key: $(cat "$tmp/err")"
openssl req -new -x509 -sha256 -days "$days" -key "$tmp/ca.key" -out "$tmp/ca.crt" \
	-subj "/O=ddbguard/CN=ddbguard egress gateway CA $(openssl rand -hex 4)" \
	-addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
	-addext "keyUsage=critical,keyCertSign,cRLSign" \
	-addext "subjectKeyIdentifier=hash" \
	-addext "nameConstraints=$constraints" 2>"$tmp/err" || die "cannot make the CA: $(cat "$tmp/err")"
openssl x509 -in "$tmp/ca.crt" -noout -ext nameConstraints 2>/dev/null | grep -q "DNS:amazonaws.com.cn" ||
	die "the CA certificate lacks its name constraints"
chmod 644 "$tmp/ca.crt"
{ mv -f "$tmp/ca.key" "$key" && mv -f "$tmp/ca.crt" "$crt"; } || die "cannot write into $out"
echo "mkgatewayca: made $crt and $key"
echo "mkgatewayca: $(openssl x509 -in "$crt" -noout -subject -enddate | tr '\n' ' ')"
