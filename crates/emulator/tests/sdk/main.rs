//! The real AWS SDK for Rust against the emulator, through every scenario.

mod helpers;
mod model_rules;
mod refusals;
mod stream_faults;
mod streaming;
mod thinking;
mod tls;
mod tools;
mod usage;
