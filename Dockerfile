# syntax=docker/dockerfile:1
# Streambed as one container: the Rust server with the built UI, on a distroless base
# (glibc, CA certificates, no shell, non-root). Build: `docker build -t streambed .`
# Note: written and reviewed by reading; Docker cannot run on the machines this project is
# developed on, so this file is not built in CI.

# --- The UI: static files served by the server at / -------------------------------------------
FROM node:20-bookworm-slim AS ui
WORKDIR /src/frontend
COPY frontend/package.json frontend/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY frontend/ ./
RUN npm run build

# --- The server ---------------------------------------------------------------------------
FROM rust:1.95-bookworm AS server
WORKDIR /src
COPY . .
# .cargo/config.toml targets x86-64-v3 (AVX2) on x86_64, which every Fargate and EC2 x86 host
# of the last decade has; arm64 (Graviton) builds use the default target.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p streambed-server --bin streambed \
    && cp target/release/streambed /streambed \
    && mkdir /data

# --- Runtime ------------------------------------------------------------------------------
FROM gcr.io/distroless/cc-debian12:nonroot
WORKDIR /app
COPY --from=server /streambed /app/streambed
COPY --from=ui /src/frontend/dist /app/frontend/dist
# The embedded SQLite store, on a volume the non-root user owns (65532 is distroless's nonroot).
# With several tasks, set DATABASE_URL=postgres://… instead (docs/deploy.md).
COPY --from=server --chown=65532:65532 /data /data
VOLUME ["/data"]
ENV HOST=0.0.0.0 \
    PORT=4000 \
    STATIC_DIR=/app/frontend/dist \
    DATABASE_URL=sqlite:/data/streambed.db \
    RUST_LOG=info,tower_http=warn
EXPOSE 4000
USER nonroot
# No curl in the image: the binary checks itself.
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/app/streambed", "healthcheck"]
# Exec form: the server is PID 1 and receives ECS's SIGTERM directly.
ENTRYPOINT ["/app/streambed"]
