#!/usr/bin/env bash
# What one chat request costs the server in CPU, apart from its tokens: the emulator over TLS +
# HTTP/2 answering with a single token, the release server, bursts of N simultaneous chats
# (scripts/burst.mjs, after one burst to warm up); prints the server's CPU time per request.
#
#   scripts/request-cpu.sh 1000 3                       # glibc malloc, as shipped
#   scripts/request-cpu.sh 1000 3 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
#   PERF=/tmp/perf.data scripts/request-cpu.sh 1000 3  # and a call-graph profile of the bursts
#
# Anything after ROUNDS goes in front of the server's command line (an env assignment or a
# wrapper). BIN_DIR names the release binaries (default target/release; `just bench` builds them).
set -euo pipefail
n=${1:?usage: request-cpu.sh N ROUNDS [WRAPPER…]}
rounds=${2:?usage: request-cpu.sh N ROUNDS [WRAPPER…]}
shift 2
bin=${BIN_DIR:-target/release}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
emulator_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ulimit -n "$(ulimit -Hn)"

"$bin/streambed-emulator" --port "$emulator_port" --tls --cert-out "$scratch/ca.pem" \
  --h2-max-streams 100000 --scenario "slow delay_ms=20 n=1" >"$scratch/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; kill -INT "${pid:-}" 2>/dev/null; rm -rf "$scratch"' EXIT
# shellcheck source=listening.sh
. "$here/listening.sh"
listening "$scratch/emulator.log" >/dev/null

env DATABASE_URL="sqlite:$scratch/streambed.db" PORT="$server_port" BEDROCK_MODEL_ID=bench \
  BEDROCK_REGION=us-east-1 AWS_ACCESS_KEY_ID=probe AWS_SECRET_ACCESS_KEY=probe \
  AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_BEDROCK_RUNTIME="https://127.0.0.1:$emulator_port" \
  AWS_CA_BUNDLE="$scratch/ca.pem" RATE_LIMIT_PER_MINUTE=0 MAX_CONCURRENT_STREAMS=100000 \
  MAX_CONNECTIONS=1000000 RUST_LOG=warn "$@" "$bin/streambed" >"$scratch/server.log" 2>&1 &
for _ in $(seq 50); do
  curl -fs "http://127.0.0.1:$server_port/api/health" >/dev/null && break
  sleep 0.2
done
pid=$(pgrep -f "^$bin/streambed$" | head -1)
# User plus system time, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
node "$here/burst.mjs" "http://127.0.0.1:$server_port" "$n" 1 >/dev/null
if [ -n "${PERF:-}" ]; then
  perf record -p "$pid" --call-graph dwarf,32768 -F 999 -o "$PERF" >/dev/null 2>&1 &
  perf=$!
  sleep 1
fi
before=$(ticks)
node "$here/burst.mjs" "http://127.0.0.1:$server_port" "$n" "$rounds"
after=$(ticks)
if [ -n "${PERF:-}" ]; then kill -INT "$perf"; wait "$perf" || true; fi
hz=$(getconf CLK_TCK)
awk -v t=$((after - before)) -v hz="$hz" -v r=$((n * rounds)) \
  'BEGIN { printf "server CPU: %.0f ms for %d requests, %.3f ms per request\n", t * 1000 / hz, r, t * 1000 / hz / r }'
