#!/usr/bin/env bash
# What N open streams cost the server, idle: the emulator over TLS + HTTP/2 (one token a second,
# so every stream stays open and quiet), the release server, N chats held open by
# scripts/hold-streams.mjs; prints the server's RSS before and while they are held.
#
#   scripts/memory-probe.sh 1000                       # glibc malloc, as shipped
#   scripts/memory-probe.sh 1000 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
#   scripts/memory-probe.sh 1000 heaptrack -o /tmp/held   # a heap profile (KILL9=1: of the held state)
#
# Anything after N goes in front of the server's command line (an env assignment or a wrapper).
# BIN_DIR names the release binaries (default target/release; `just bench` builds them).
set -euo pipefail
n=${1:?usage: memory-probe.sh N [WRAPPER…]}
shift
bin=${BIN_DIR:-target/release}
here=$(cd "$(dirname "$0")" && pwd)
scratch=$(mktemp -d)
emulator_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
server_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
ulimit -n "$(ulimit -Hn)"

"$bin/streambed-emulator" --port "$emulator_port" --tls --cert-out "$scratch/ca.pem" \
  --h2-max-streams 100000 --scenario "slow delay_ms=1000 n=60" >"$scratch/emulator.log" 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null; rm -rf "$scratch"' EXIT
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
rss() { awk '/VmHWM|VmRSS/{printf "%s %s kB  ", $1, $2}' "/proc/$pid/status"; echo; }
# One answer first, so the upstream connection is open before the burst.
curl -s "http://127.0.0.1:$server_port/api/chat" -H 'content-type: application/json' \
  -d '{"prompt":"warm"}' -m 3 >/dev/null || true
echo -n "before: "; rss
node "$here/hold-streams.mjs" "http://127.0.0.1:$server_port" "$n" 8 >"$scratch/client.log" &
client=$!
until grep -q holding "$scratch/client.log" 2>/dev/null; do sleep 0.5; done
cat "$scratch/client.log"
sleep 3
echo -n "held:   "; rss
if [ -n "${KILL9:-}" ]; then kill -9 "$pid"; fi
wait "$client"
kill -INT "$pid" 2>/dev/null || true
sleep 3
