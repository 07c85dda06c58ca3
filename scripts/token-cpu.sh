#!/usr/bin/env bash
# What one relayed token costs the server in CPU: the emulator over TLS + HTTP/2 answering with
# TOKENS tokens paced 20 ms apart, the release server, one burst of N simultaneous chats
# (scripts/burst.mjs, after a warm-up burst of 100); prints the server's CPU per 1,000 tokens,
# the request's own cost included. Two runs with different TOKENS separate the two:
#
#   TOKENS=100 scripts/token-cpu.sh 1000   # CPU per 1,000 tokens, as the bench's paced rows
#   TOKENS=10 scripts/token-cpu.sh 1000    # the same requests with a tenth of the tokens
#   PERF=/tmp/perf.data scripts/token-cpu.sh 1000   # and a call-graph profile of the burst
#
# Anything after N goes in front of the server's command line (an env assignment or a wrapper).
# BIN_DIR names the release binaries (default target/release; `just bench` builds them).
set -euo pipefail
n=${1:?usage: token-cpu.sh N [WRAPPER…]}
shift
tokens=${TOKENS:-100}
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=probe-server.sh
. "$here/probe-server.sh"
probe_server "slow delay_ms=20 n=$tokens" "$@"
# User plus system time, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
node "$here/burst.mjs" "$server_url" 100 1 >/dev/null
if [ -n "${PERF:-}" ]; then
  perf record -p "$pid" --call-graph dwarf,16384 -F 499 -o "$PERF" >/dev/null 2>&1 &
  perf=$!
  sleep 1
fi
before=$(ticks)
node "$here/burst.mjs" "$server_url" "$n" 1 >/dev/null
after=$(ticks)
if [ -n "${PERF:-}" ]; then kill -INT "$perf"; wait "$perf" || true; fi
hz=$(getconf CLK_TCK)
awk -v t=$((after - before)) -v hz="$hz" -v n="$n" -v k="$tokens" \
  'BEGIN { printf "server CPU: %.0f ms for %d chats of %d tokens, %.4f s per 1,000 tokens\n", t * 1000 / hz, n, k, t / hz / (n * k) * 1000 }'
