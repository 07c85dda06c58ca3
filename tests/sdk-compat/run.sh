#!/usr/bin/env bash
# The emulator against two SDKs that share no code with the Rust one: boto3 (Python) and the
# AWS SDK for JavaScript v3 (which speaks HTTP/2 with prior knowledge to http:// endpoints).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/streambed"

log=$(mktemp)
"$target/debug/streambed-emulator" --port 0 --delay-ms 0 >"$log" 2>&1 &
emulator=$!
# The same emulator over HTTPS, with the CA boto3 is told to trust.
tls_log=$(mktemp)
ca=$(mktemp --suffix=.pem)
"$target/debug/streambed-emulator" --port 0 --delay-ms 0 --tls --cert-out "$ca" >"$tls_log" 2>&1 &
tls_emulator=$!
trap 'kill $emulator $tls_emulator 2>/dev/null; rm -f "$log" "$tls_log" "$ca"' EXIT
# shellcheck source=../../scripts/listening.sh
source "$root/scripts/listening.sh"
url=$(listening "$log")
tls_url=$(listening "$tls_log")
export EMULATOR_URL="$url" EMULATOR_TLS_URL="$tls_url" EMULATOR_CA="$ca" AWS_ACCESS_KEY_ID=compat AWS_SECRET_ACCESS_KEY=compat AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true

# boto3 in a venv of its own, made once; 1.40.20 is the first with CountTokens.
venv="$cache/sdk-compat-venv"
has_count_tokens='import boto3; assert hasattr(boto3.client("bedrock-runtime", region_name="us-east-1"), "count_tokens")'
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "$has_count_tokens" 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --upgrade 'boto3>=1.40.20'
fi
echo "== boto3"
"$venv/bin/python" -m unittest -v "$here/test_boto3.py" 2>&1

echo "== AWS SDK for JavaScript v3"
(cd "$here" && { [ -d node_modules/@aws-sdk/client-bedrock-runtime ] || npm ci --no-audit --no-fund --silent; })
node --test "$here/bedrock.test.mjs"
