#!/usr/bin/env bash
# The reference for the embedded model's speed: llama.cpp, through llama-cpp-python built from
# source once in a throwaway venv (about 5 minutes), on the same GGUF, prompt and settings as
# `streambed-bench --only local`: the Q4_1 file, then the Q8_0 file Streambed converts it to and
# runs (written beside it on first load), so the two runtimes also compare on the same weights.
# Not part of the product or of CI.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${XDG_CACHE_HOME:-$HOME/.cache}/streambed/llama-venv"
# Built for this CPU but without AMX: on the Xeon in BENCHMARKS.md, ggml's AMX matmul
# (ggml_backend_amx_mul_mat) segfaults on the 40-token prompt, as in llama.cpp#20824. The
# AVX-512 VNNI kernels it then uses are the ones an AMD EPYC runs. A venv built with AMX is
# rebuilt, bypassing pip's wheel cache, which would hand back the same build.
if ! "$venv/bin/python" -c 'import llama_cpp, sys; sys.exit(b"AMX_INT8 = 1" in llama_cpp.llama_print_system_info())' 2>/dev/null; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check cmake
  no_amx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  PATH="$venv/bin:$PATH" CMAKE_ARGS="-DGGML_NATIVE=ON" CFLAGS="$no_amx" CXXFLAGS="$no_amx" \
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir 'llama-cpp-python==0.3.*'
fi
model="${LOCAL_MODEL_PATH:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
"$venv/bin/python" scripts/bench_llama_cpp.py "$model" "${@}"
converted="${model%.gguf}.q8_0.gguf"
if [ -f "$converted" ]; then
  echo
  "$venv/bin/python" scripts/bench_llama_cpp.py "$converted" "${@}"
fi
