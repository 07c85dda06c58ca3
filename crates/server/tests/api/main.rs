//! The real `streambed` server against the Bedrock emulator, over HTTP on loopback.

mod auth;
mod binary;
mod cancellation;
mod chat_stream;
mod connections;
mod conversations;
mod fallback;
mod helpers;
mod idp;
mod input;
mod limits;
mod metrics;
mod models;
mod replicas;
mod resume;
mod routes;
mod shutdown;
mod stored;
mod upstream_errors;
