"""llama.cpp on the prompt and settings of `streambed-bench --only local`: median of N runs."""

import os
import statistics
import sys
import time

import llama_cpp
from llama_cpp import Llama

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
PROMPT = (
    f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
    "<|im_start|>user\nExplain what a REST API is in two sentences.<|im_end|>\n"
    "<|im_start|>assistant\n"
)
RUNS = 3 if "--quick" in sys.argv else 7


def cpuinfo(field):
    """/proc/cpuinfo's first value for `field`, as `streambed-bench` reads it."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == field:
                    return value.strip()
    except OSError:
        pass
    return "unknown"


started = time.perf_counter()
llm = Llama(model_path=sys.argv[1], n_ctx=2048, n_threads=2, n_batch=512, verbose=False)
load = time.perf_counter() - started
prompt_tokens = len(llm.tokenize(PROMPT.encode(), add_bos=False, special=True))


def once():
    llm.reset()
    started = time.perf_counter()
    first, count = None, 0
    for _ in llm.create_completion(PROMPT, max_tokens=128, temperature=0.0, stream=True, stop=["<|im_end|>"]):
        count += 1
        if first is None:
            first = time.perf_counter() - started
    total = time.perf_counter() - started
    return first, count, (count - 1) / (total - first)


once()  # warm-up
runs = [once() for _ in range(RUNS)]
ttft = statistics.median(r[0] for r in runs)
print(f"llama.cpp via llama-cpp-python (2 threads, median of {RUNS} runs)")
print("| measure | value |")
print("| --- | --- |")
print(f"| machine | {cpuinfo('model name')} ({cpuinfo('vendor_id')}), {len(os.sched_getaffinity(0))} CPUs |")
print(f"| file | {sys.argv[1]} |")
# Which of ggml's CPU kernels this build may use (AVX512_VNNI, AMX_INT8, REPACK, ...).
info = llama_cpp.llama_print_system_info().decode().removeprefix("CPU :").split("|")
features = [name.strip() for name, _, on in (f.partition("=") for f in info) if on.strip() == "1"]
print(f"| llama.cpp CPU features | {', '.join(features)} |")
print(f"| load | {load:.2f} s |")
print(f"| prompt tokens | {prompt_tokens} |")
print(f"| time to first token | {ttft * 1000:.0f} ms |")
print(f"| prompt processing | {prompt_tokens / ttft:.0f} tokens/s |")
print(f"| generation ({runs[-1][1]} tokens) | {statistics.median(r[2] for r in runs):.1f} tokens/s |")
