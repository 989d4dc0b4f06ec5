#!/usr/bin/env bash
# mkgatewayca.sh [-f] [--days N] OUTDIR [REGION...]
#
# Makes the CA that ddbguard's egress gateway mints its tunnel certificates from (config: egress.ca_cert,
# egress.ca_key):
#   gateway-ca.crt   EC P-256 self-signed CA: CA:TRUE pathlen:0, keyUsage keyCertSign+cRLSign, and a
#                    critical nameConstraints extension (excluding every IP address) that permits
#                    - with REGIONs (use the egress.regions of the config): only the DynamoDB endpoint
#                      names of those regions, and every name below them (RFC 5280 4.2.1.10):
#                        dynamodb.<region>.<domain>         (regional; streams.dynamodb.<region>... is below it)
#                        streams.dynamodb.<region>.<domain> (listed too, for readers of the certificate)
#                        dynamodb-fips.<region>.<domain>    (FIPS)
#                        ddb.<region>.<domain>              (account-based: <account-id>.ddb.<region>...)
#                        dynamodb.<region>.vpce.<domain>    (VPC endpoints: vpce-....dynamodb.<region>.vpce...)
#                      with <domain> amazonaws.com, or amazonaws.com.cn for cn- regions;
#                    - without REGIONs: every name under amazonaws.com and amazonaws.com.cn.
#                    A client that checks name constraints (OpenSSL, Go, Java, browsers) rejects any
#                    certificate this CA signs for another name. Narrowed to DynamoDB names, a stolen key
#                    cannot impersonate STS, S3, KMS or any other AWS service to the clients that trust it;
#                    constrained to amazonaws.com only, it could.
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

usage() { echo "usage: $0 [-f] [--days N] OUTDIR [REGION...]" >&2; exit 2; }
force=0 days=1825 out="" regions=()
while (($#)); do
	case "$1" in
	-f|--force) force=1 ;;
	--days) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]{0,4}$ ]] || usage; days="$2"; shift ;;
	-h|--help) usage ;;
	-*) echo "unknown option: $1" >&2; usage ;;
	*)
		if [[ -z "$out" ]]; then
			out="$1"
		else
			# us-east-1, us-gov-west-1, cn-north-1, eusc-de-east-1; "us-east1" is a typo, not a region
			[[ "$1" =~ ^[a-z]{2,4}(-[a-z]+)+-[0-9]{1,2}$ ]] ||
				{ echo "mkgatewayca: '$1' is not a region name such as us-east-1" >&2; exit 2; }
			regions+=("$1")
		fi ;;
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
constraints="critical"
if ((${#regions[@]})); then
	for r in "${regions[@]}"; do
		d=amazonaws.com
		[[ "$r" == cn-* ]] && d=amazonaws.com.cn
		for n in "dynamodb.$r.$d" "streams.dynamodb.$r.$d" "dynamodb-fips.$r.$d" "ddb.$r.$d" "dynamodb.$r.vpce.$d"; do
			constraints="$constraints,permitted;DNS:$n"
		done
	done
	expect="DNS:dynamodb.${regions[0]}."
else
	constraints="$constraints,permitted;DNS:amazonaws.com,permitted;DNS:amazonaws.com.cn"
	expect="DNS:amazonaws.com.cn"
fi
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
openssl x509 -in "$tmp/ca.crt" -noout -ext nameConstraints 2>/dev/null | grep -qF "$expect" ||
	die "the CA certificate lacks its name constraints"
chmod 644 "$tmp/ca.crt"
{ mv -f "$tmp/ca.key" "$key" && mv -f "$tmp/ca.crt" "$crt"; } || die "cannot write into $out"
echo "mkgatewayca: made $crt and $key"
echo "mkgatewayca: $(openssl x509 -in "$crt" -noout -subject -enddate | tr '\n' ' ')"
if ((${#regions[@]})); then
	echo "mkgatewayca: constrained to the DynamoDB endpoint names of ${regions[*]}"
else
	echo "mkgatewayca: constrained to amazonaws.com (give the egress regions to narrow it to DynamoDB names)"
fi
