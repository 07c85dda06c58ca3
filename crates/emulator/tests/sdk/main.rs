//! The real AWS SDK for Rust against the emulator, through every scenario.

mod helpers;
mod refusals;
mod stream_faults;
mod streaming;
