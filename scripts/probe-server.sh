# Sourced by the probes (memory-probe.sh, request-cpu.sh): `probe_server SCENARIO [WRAPPER…]`
# starts the release emulator over TLS + HTTP/2 answering with SCENARIO and the release server
# behind it (WRAPPER, an env assignment or a command, goes in front of the server's command
# line), both on free ports, with limits off so one client (one owner, for stored turns) may open
# thousands of streams. It sets `scratch` (a temp folder, removed on exit), `server_url`, `pid`
# (the server's), `probe_emulator` (the emulator's) and `bin`. BIN_DIR names the release binaries
# (default target/release; `just bench` builds them).
probe_server() {
  local scenario=$1 emulator_port server_port
  shift
  bin=${BIN_DIR:-target/release}
  scratch=$(mktemp -d)
  emulator_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  server_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  ulimit -n "$(ulimit -Hn)"
  "$bin/streambed-emulator" --port "$emulator_port" --tls --cert-out "$scratch/ca.pem" \
    --h2-max-streams 100000 --scenario "$scenario" >"$scratch/emulator.log" 2>&1 &
  probe_emulator=$!
  # Either may have ended already (a probe stops the server itself); the folder goes regardless.
  trap 'kill "$probe_emulator" 2>/dev/null || true; kill -INT "${pid:-}" 2>/dev/null || true; rm -rf "$scratch"' EXIT
  # shellcheck source=listening.sh
  . "$(dirname "${BASH_SOURCE[0]}")/listening.sh"
  listening "$scratch/emulator.log" >/dev/null
  env DATABASE_URL="sqlite:$scratch/streambed.db" PORT="$server_port" BEDROCK_MODEL_ID=bench \
    BEDROCK_REGION=us-east-1 AWS_ACCESS_KEY_ID=probe AWS_SECRET_ACCESS_KEY=probe \
    AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_BEDROCK_RUNTIME="https://127.0.0.1:$emulator_port" \
    AWS_CA_BUNDLE="$scratch/ca.pem" RATE_LIMIT_PER_MINUTE=0 MAX_CONCURRENT_STREAMS=100000 \
    MAX_CONNECTIONS=1000000 MAX_RUNNING_ANSWERS_PER_OWNER=100000 MAX_CONVERSATIONS_PER_OWNER=1000000 \
    RUST_LOG=warn "$@" "$bin/streambed" >"$scratch/server.log" 2>&1 &
  server_url="http://127.0.0.1:$server_port"
  for _ in $(seq 50); do
    curl -fs "$server_url/api/health" >/dev/null && break
    sleep 0.2
  done
  # The process listening on the port, not a name match: another server may be running.
  pid=$(ss -ltnpH "sport = :$server_port" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2)
}
