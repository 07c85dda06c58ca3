//! A throwaway Redis server: Debian's `redis-server` on a free loopback port, persistence off
//! (`--save ""`, `--appendonly no`), working in its own temporary directory. Each test that needs
//! one starts its own (it takes milliseconds), so tests never share keys and one may stop its
//! server mid-test to see how the code under test copes. [`Redis::start_tls`] speaks only TLS,
//! as ElastiCache with encryption in transit does, with a certificate from a throwaway CA that
//! a client trusts through `SSL_CERT_FILE`.

use std::{
    fs::{self, File},
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    path::Path,
    path::PathBuf,
    process::{Command, Stdio},
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
    /// The CA that signed the server's certificate, when it speaks TLS.
    ca: Option<PathBuf>,
    /// Options besides the port, TLS and persistence, for a restart.
    options: &'static [&'static str],
    // Only dropped: declared before `dir`, so the server stops before its directory goes.
    daemon: Option<Daemon>,
    dir: TempDir,
}

impl Redis {
    /// Starts a new server of its own. Panics, saying what to install, when Redis is missing.
    pub fn start() -> Self {
        Self::start_with(false, &[])
    }

    /// Starts a server that accepts only TLS, for `localhost` and `127.0.0.1`; see [`Self::ca_file`].
    pub fn start_tls() -> Self {
        Self::start_with(true, &[])
    }

    /// Starts a server that speaks only RESP2, as Redis before 6 does: `HELLO` is renamed away.
    pub fn start_resp2_only() -> Self {
        Self::start_with(false, &["--rename-command", "HELLO", ""])
    }

    fn start_with(tls: bool, options: &'static [&'static str]) -> Self {
        let installed = Command::new(BINARY).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(installed, "Redis is not installed: apt-get install redis-server");
        let mut dir = scratch_dir("redis");
        let ca = tls.then(|| certificates(dir.path()));
        for attempt in 1..=PORT_ATTEMPTS {
            let mut redis = Self { port: free_port(), ca: ca.clone(), options, daemon: None, dir };
            match redis.launch(&format!("redis-{attempt}.log")) {
                Ok(()) => return redis,
                Err(log) => assert!(
                    log.contains("Address already in use") && attempt < PORT_ATTEMPTS,
                    "Redis exited while starting:\n{log}"
                ),
            }
            dir = redis.dir;
        }
        unreachable!("the last attempt either starts or panics")
    }

    /// Starts the server on its port, logging to `log` in its directory; the log when it exits.
    fn launch(&mut self, log: &str) -> Result<(), String> {
        let (port, tls, log_path) = (self.port, self.ca.is_some(), self.dir.path().join(log));
        let command = server_command(self.dir.path(), port, tls, self.options, &log_path);
        let mut daemon = Daemon::spawn(command, "TERM", self.dir.path()).expect("start redis");
        let started = wait_until("Redis to answer", STARTUP_TIMEOUT, || {
            if daemon.exited().is_some() {
                return Some(false);
            }
            // A TLS port cannot be asked in plain text; that it accepts connections will do.
            let ready = if tls { accepts(port) } else { answers_ping(port) };
            ready.then_some(true)
        });
        if !started {
            return Err(fs::read_to_string(&log_path).unwrap_or_default());
        }
        self.daemon = Some(daemon);
        Ok(())
    }

    /// `redis://127.0.0.1:<port>` (`rediss://localhost:<port>` for a TLS server), for `REDIS_URL`.
    pub fn url(&self) -> String {
        match self.ca {
            None => format!("redis://127.0.0.1:{}", self.port),
            Some(_) => format!("rediss://localhost:{}", self.port),
        }
    }

    /// The PEM file of the CA a TLS server's certificate comes from (for `SSL_CERT_FILE`).
    pub fn ca_file(&self) -> Option<&Path> {
        self.ca.as_deref()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server now (the test goes on without it); its port stays closed.
    pub fn stop(&mut self) {
        drop(self.daemon.take());
    }

    /// Stops the server and starts a new one, empty, on the same port, as a Redis restart or
    /// failover does.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.launch("redis-restarted.log") {
            panic!("Redis exited while starting again:\n{log}");
        }
    }

    /// `CLIENT LIST`: one line per connection, with its protocol (`resp=`) and subscriptions.
    pub fn clients(&self) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect to Redis");
        stream.set_read_timeout(Some(Duration::from_secs(5))).expect("set a read timeout");
        stream.write_all(b"CLIENT LIST\r\n").expect("ask Redis");
        let mut reply = BufReader::new(stream);
        let mut header = String::new();
        reply.read_line(&mut header).expect("read Redis's reply");
        let length: usize = header
            .trim_end()
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("CLIENT LIST: not a bulk string: {header}"));
        let mut list = vec![0; length];
        reply.read_exact(&mut list).expect("read Redis's reply");
        String::from_utf8(list).expect("CLIENT LIST is text")
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

fn server_command(dir: &Path, port: u16, tls: bool, options: &[&str], log_path: &Path) -> Command {
    let log = File::create(log_path).expect("create the Redis log");
    let mut command = Command::new(BINARY);
    if tls {
        command.args(["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"]);
        command.arg("--tls-cert-file").arg(dir.join("server.crt"));
        command.arg("--tls-key-file").arg(dir.join("server.key"));
    } else {
        command.args(["--port", &port.to_string()]);
    }
    command
        .args(["--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir)
        .args(["--daemonize", "no", "--loglevel", "warning"])
        .args(options)
        .current_dir(dir)
        .stdout(log.try_clone().expect("share the Redis log"))
        .stderr(log);
    command
}

/// A throwaway CA (`ca.crt`, returned) and a certificate it signs for `localhost` and
/// `127.0.0.1` (`server.crt`, `server.key`), in `dir`. A CA of its own, because a certificate
/// verifier (webpki) refuses a self-signed server certificate even when told to trust it.
fn certificates(dir: &Path) -> PathBuf {
    let openssl = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run openssl {args:?}: {e}"));
        assert!(output.status.success(), "openssl {args:?}:\n{}", String::from_utf8_lossy(&output.stderr));
    };
    let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &["-keyout", "ca.key", "-out", "ca.crt", "-subj", "/CN=streambed test CA"],
        ]
        .concat(),
    );
    openssl(
        &[&["req"][..], &key, &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]]
            .concat(),
    );
    fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("write the certificate's extensions");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "7",
        "-extfile",
        "server.ext",
        "-out",
        "server.crt",
    ]);
    dir.join("ca.crt")
}

/// Whether anything accepts a connection on `port`.
fn accepts(port: u16) -> bool {
    TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_secs(1)).is_ok()
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
    fn a_tls_server_comes_with_the_ca_that_signed_its_certificate() {
        let redis = Redis::start_tls();

        assert!(redis.url().starts_with("rediss://localhost:"));
        let ca = redis.ca_file().expect("a CA file");
        assert!(fs::read_to_string(ca).unwrap().contains("BEGIN CERTIFICATE"));
        assert!(!redis.is_up(), "no plain-text PING on a TLS port");
    }

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
