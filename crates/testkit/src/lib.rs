//! Test-only helpers (a dev-dependency, never shipped): real servers that integration tests
//! start for themselves instead of expecting one on the machine. [`Postgres`] runs a throwaway
//! PostgreSQL from Debian's `postgresql` package on a free loopback port, in its own temporary
//! directory, as an unprivileged user when the tests run as root; each test gets a fresh
//! database on it. [`Pgbouncer`] puts Debian's `pgbouncer` in front of one. [`Redis`] runs
//! Debian's `redis-server` the same way, one per test. Every server is stopped and its directory removed when it is dropped, or
//! when the test process exits without dropping it (a `static` shared by a test binary).
//!
//! Nothing is skipped: a missing server binary fails the test with the command that installs it.
//! Starters for other servers belong beside [`Postgres`], built from the same parts in
//! [`process`]: a free port, a bounded wait for readiness, and a supervised child process.

pub mod pgbouncer;
pub mod postgres;
pub mod process;
pub mod redis;

pub use pgbouncer::Pgbouncer;
pub use postgres::Postgres;
pub use redis::Redis;
pub use tempfile::TempDir;

/// A fresh empty directory, removed when the returned guard is dropped.
pub fn scratch_dir(label: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(&format!("streambed-{label}-"))
        .tempdir()
        .expect("create a temporary directory")
}
