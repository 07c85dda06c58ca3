//! The real `streambed` server against the Bedrock emulator, over HTTP on loopback.

mod anthropic;
mod auth;
mod binary;
mod cancellation;
mod chat_stream;
mod connections;
mod conversations;
mod fallback;
mod foreign_endpoints;
mod helpers;
mod idp;
mod input;
mod limits;
mod metrics;
mod model_rules;
mod models;
mod openai;
mod replicas;
mod resume;
mod retry;
mod routes;
mod shutdown;
mod stored;
mod tls;
mod upstream_errors;
