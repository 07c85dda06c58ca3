#!/usr/bin/env bash
# The reference for the embedded model's speed: llama.cpp, through llama-cpp-python built from
# source once in a throwaway venv (about 5 minutes), on the same GGUF, prompt and settings as
# `streambed-bench --only local`. Not part of the product or of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/streambed/llama-venv"
if ! "$venv/bin/python" -c 'import llama_cpp' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cmake
  PATH="$venv/bin:$PATH" CMAKE_ARGS="-DGGML_NATIVE=ON" "$venv/bin/pip" install --quiet --disable-pip-version-check 'llama-cpp-python==0.3.*'
fi
"$venv/bin/python" scripts/bench_llama_cpp.py "${LOCAL_MODEL_PATH:-models/SmolLM2-135M-Instruct.Q4_1.gguf}" "${@}"
