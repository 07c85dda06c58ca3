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
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=probe-server.sh
. "$here/probe-server.sh"
probe_server "slow delay_ms=1000 n=60" "$@"
rss() { awk '/VmHWM|VmRSS/{printf "%s %s kB  ", $1, $2}' "/proc/$pid/status"; echo; }
# One answer first, so the upstream connection is open before the burst.
curl -s "$server_url/api/chat" -H 'content-type: application/json' \
  -d '{"prompt":"warm"}' -m 3 >/dev/null || true
echo -n "before: "; rss
node "$here/hold-streams.mjs" "$server_url" "$n" 8 >"$scratch/client.log" &
client=$!
until grep -q holding "$scratch/client.log" 2>/dev/null; do sleep 0.5; done
cat "$scratch/client.log"
sleep 3
echo -n "held:   "; rss
if [ -n "${KILL9:-}" ]; then kill -9 "$pid"; fi
wait "$client"
kill -INT "$pid" 2>/dev/null || true
sleep 3
