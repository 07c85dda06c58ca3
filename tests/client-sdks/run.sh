#!/usr/bin/env bash
# Streambed's OpenAI- and Anthropic-compatible APIs through the clients people use: the official
# `openai` and `anthropic` Python SDKs and the `openai` JavaScript SDK, against the real server
# with the Bedrock emulator behind it (and the embedded model beside it).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="$(realpath -m "${CARGO_TARGET_DIR:-$root/target}")"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/streambed"
# shellcheck source=../../scripts/listening.sh
source "$root/scripts/listening.sh"

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null; rm -rf "$work"' EXIT

"$target/debug/streambed-emulator" --port 0 --delay-ms 0 >"$work/emulator.log" 2>&1 &
pids+=($!)
emulator=$(listening "$work/emulator.log")

export STREAMBED_API_KEY=client-sdk-key-0123456789
PORT=0 \
  API_KEYS="$STREAMBED_API_KEY" \
  RATE_LIMIT_PER_MINUTE=100000 \
  BEDROCK_MODEL_ID=anthropic.claude-3-haiku-20240307-v1:0 \
  BEDROCK_MODELS='us.anthropic.claude-sonnet-4-5-20250929-v1:0=Claude Sonnet 4.5' \
  BEDROCK_REGION=us-east-1 \
  AWS_ENDPOINT_URL_BEDROCK_RUNTIME="$emulator" \
  AWS_ACCESS_KEY_ID=client-sdks AWS_SECRET_ACCESS_KEY=client-sdks AWS_EC2_METADATA_DISABLED=true \
  LOCAL_MODEL_PATH="$root/models/SmolLM2-135M-Instruct.Q4_1.gguf" \
  DATABASE_URL="sqlite:$work/streambed.db" \
  STATIC_DIR="$work/no-ui" \
  env -C "$work" "$target/debug/streambed" >"$work/server.log" 2>&1 &
pids+=($!)
export STREAMBED_URL EMULATOR_URL="$emulator"
STREAMBED_URL=$(listening "$work/server.log")

# The official Python SDKs in a venv of their own, made once.
venv="$cache/client-sdks-venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import openai, anthropic' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check 'openai>=1.99' 'anthropic>=0.60'
fi
status=0
for suite in "$here"/test_*.py; do
  echo "== $(basename "$suite")"
  PYTHONPATH="$here" "$venv/bin/python" -m unittest -v "$suite" 2>&1 || status=1
done

for suite in "$here"/*.test.mjs; do
  [ -e "$suite" ] || continue
  echo "== $(basename "$suite")"
  (cd "$here" && { [ -d node_modules/openai ] || npm ci --no-audit --no-fund --silent; })
  node --test "$suite" || status=1
done
[ "$status" = 0 ] || { echo "--- server log"; tail -50 "$work/server.log"; }
exit "$status"
