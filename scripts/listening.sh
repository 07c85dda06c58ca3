# Sourced by the test scripts that start `streambed` or `streambed-emulator` in the background.
# `listening LOG` waits (up to 20 s) for the first http:// or https:// address in LOG, which both
# binaries print once they accept connections, and prints it; it shows the log and fails otherwise.
listening() {
  local url
  for _ in $(seq 200); do
    url=$(grep -oE 'https?://[0-9.:]*[0-9]' "$1" | head -1 || true)
    [ -n "$url" ] && { echo "$url"; return; }
    sleep 0.1
  done
  cat "$1" >&2
  echo "did not start: $1" >&2
  exit 1
}
