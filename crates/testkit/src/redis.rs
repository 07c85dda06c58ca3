//! A throwaway Redis server: Debian's `redis-server` on a free loopback port, persistence off
//! (`--save ""`, `--appendonly no`), working in its own temporary directory. Each test that needs
//! one starts its own (it takes milliseconds), so tests never share keys and one may stop its
//! server mid-test to see how the code under test copes.

use std::{
    fs::{self, File},
    io::{Read, Write},
    net::TcpStream,
    path::Path,
    process::Command,
    time::Duration,
};

use crate::{
    TempDir,
    process::{Daemon, free_port, wait_until},
    scratch_dir,
};

/// Where Debian's `redis-server` package puts the server.
const BINARY: &str = "redis-server";

/// Starting takes milliseconds; a busy 2-core CI machine may need much longer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// Tries before giving up when another process takes the free port first.
const PORT_ATTEMPTS: u32 = 5;

/// A running Redis server, stopped and deleted when dropped.
///
/// ```no_run
/// let redis = streambed_testkit::Redis::start();
/// let url = redis.url(); // redis://127.0.0.1:…
/// ```
#[derive(Debug)]
pub struct Redis {
    port: u16,
    // Only dropped: declared before `dir`, so the server stops before its directory goes.
    daemon: Option<Daemon>,
    dir: TempDir,
}

impl Redis {
    /// Starts a new server of its own. Panics, saying what to install, when Redis is missing.
    pub fn start() -> Self {
        let installed = Command::new(BINARY).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(installed, "Redis is not installed: apt-get install redis-server");
        let dir = scratch_dir("redis");
        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port();
            let log_path = dir.path().join(format!("redis-{attempt}.log"));
            let mut daemon = Daemon::spawn(server_command(dir.path(), port, &log_path), "TERM", dir.path())
                .expect("start redis");
            let started = wait_until("Redis to answer PING", STARTUP_TIMEOUT, || {
                if daemon.exited().is_some() {
                    return Some(false);
                }
                answers_ping(port).then_some(true)
            });
            if started {
                return Self { port, daemon: Some(daemon), dir };
            }
            let log = fs::read_to_string(&log_path).unwrap_or_default();
            assert!(
                log.contains("Address already in use") && attempt < PORT_ATTEMPTS,
                "Redis exited while starting:\n{log}"
            );
        }
        unreachable!("the last attempt either starts or panics")
    }

    /// `redis://127.0.0.1:<port>`, for `REDIS_URL`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (the test goes on without it); its port stays closed.
    pub fn stop(&mut self) {
        drop(self.daemon.take());
    }

    /// Whether the server answers `PING`.
    pub fn is_up(&self) -> bool {
        answers_ping(self.port)
    }

    /// The server's directory (its log is there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

fn server_command(dir: &Path, port: u16, log_path: &Path) -> Command {
    let log = File::create(log_path).expect("create the Redis log");
    let mut command = Command::new(BINARY);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .current_dir(dir)
        .stdout(log.try_clone().expect("share the Redis log"))
        .stderr(log);
    command
}

/// Sends an inline `PING` and expects `+PONG`, within a second.
fn answers_ping(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1))
    else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut reply = [0; 7];
    stream.write_all(b"PING\r\n").is_ok() && stream.read_exact(&mut reply).is_ok() && &reply == b"+PONG\r\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_server_answers_until_stopped_and_leaves_nothing_behind() {
        let mut redis = Redis::start();
        let (port, dir) = (redis.port(), redis.dir().to_owned());

        assert!(redis.is_up());
        assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}"));
        redis.stop();
        assert!(!redis.is_up(), "still answering on {port}");
        drop(redis);
        assert!(!dir.exists(), "{} is left behind", dir.display());
    }
}
