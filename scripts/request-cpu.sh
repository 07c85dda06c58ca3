#!/usr/bin/env bash
# What one chat request costs the server in CPU, apart from its tokens: the emulator over TLS +
# HTTP/2 answering with a single token, the release server, bursts of N simultaneous chats
# (scripts/burst.mjs, after one burst to warm up); prints the server's CPU time per request.
#
#   scripts/request-cpu.sh 1000 3                       # glibc malloc, as shipped
#   scripts/request-cpu.sh 1000 3 LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libmimalloc.so.2
#   PERF=/tmp/perf.data scripts/request-cpu.sh 1000 3  # and a call-graph profile of the bursts
#   STORED=1 scripts/request-cpu.sh 1000 3             # each chat a new stored conversation's turn
#
# Anything after ROUNDS goes in front of the server's command line (an env assignment or a
# wrapper). BIN_DIR names the release binaries (default target/release; `just bench` builds them).
set -euo pipefail
n=${1:?usage: request-cpu.sh N ROUNDS [WRAPPER…]}
rounds=${2:?usage: request-cpu.sh N ROUNDS [WRAPPER…]}
shift 2
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=probe-server.sh
. "$here/probe-server.sh"
probe_server "slow delay_ms=20 n=1" "$@"
# User plus system time, in clock ticks.
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
node "$here/burst.mjs" "$server_url" "$n" 1 >/dev/null
# Stored turns go to fresh conversations, one set per round, created before the timing starts.
ids=
[ "${STORED:-}" != 1 ] || ids=$scratch/conversations.json
[ -z "$ids" ] || node "$here/burst.mjs" "$server_url" "$n" "$rounds" "$ids"
if [ -n "${PERF:-}" ]; then
  perf record -p "$pid" --call-graph dwarf,32768 -F 999 -o "$PERF" >/dev/null 2>&1 &
  perf=$!
  sleep 1
fi
before=$(ticks)
node "$here/burst.mjs" "$server_url" "$n" "$rounds" ${ids:+"$ids"}
after=$(ticks)
if [ -n "${PERF:-}" ]; then kill -INT "$perf"; wait "$perf" || true; fi
hz=$(getconf CLK_TCK)
awk -v t=$((after - before)) -v hz="$hz" -v r=$((n * rounds)) \
  'BEGIN { printf "server CPU: %.0f ms for %d requests, %.3f ms per request\n", t * 1000 / hz, r, t * 1000 / hz / r }'
