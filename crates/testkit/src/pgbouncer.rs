//! A throwaway pgbouncer in front of a [`Postgres`]: Debian's `pgbouncer` on a free loopback
//! port, with its default settings but for the address and who may connect, as an operator's
//! first try of one would be (session pooling). Every database of the server is reachable
//! through it, for the server's superuser, trusted as the server trusts it.

use std::{
    fs::{self, File},
    net::TcpStream,
    path::Path,
    time::Duration,
};

use crate::{
    Postgres, TempDir,
    process::{Daemon, Launch, RunAs, start_on_free_port},
    scratch_dir,
};

/// Where Debian's `pgbouncer` package puts it.
const BINARY: &str = "/usr/sbin/pgbouncer";

/// Starting takes milliseconds; a busy 2-core CI machine may need much longer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(30);

/// A running pgbouncer, stopped and deleted when dropped.
///
/// ```no_run
/// let server = streambed_testkit::Postgres::shared();
/// let pooler = streambed_testkit::Pgbouncer::start(server);
/// let url = pooler.in_front(&server.database("pooled")); // the same database, through pgbouncer
/// ```
#[derive(Debug)]
pub struct Pgbouncer {
    port: u16,
    server_port: u16,
    // Only dropped: declared before `dir`, so pgbouncer stops before its directory goes.
    _daemon: Daemon,
    dir: TempDir,
}

impl Pgbouncer {
    /// Starts one in front of `server`. Panics, saying what to install, when pgbouncer is missing.
    pub fn start(server: &Postgres) -> Self {
        assert!(Path::new(BINARY).exists(), "pgbouncer is not installed: apt-get install pgbouncer");
        // pgbouncer refuses to run as root, as PostgreSQL does.
        let user = RunAs::unprivileged();
        let dir = scratch_dir("pgbouncer");
        user.own(dir.path());
        let users = dir.path().join("users.txt");
        fs::write(&users, format!("\"{}\" \"\"\n", server.superuser())).expect("write pgbouncer's users");
        let launch = Launch {
            what: "pgbouncer",
            dir: dir.path(),
            stop_signal: "INT",
            port_taken: "Address already in use",
            timeout: STARTUP_TIMEOUT,
        };
        let command = |port, log: File| {
            let config = dir.path().join(format!("pgbouncer-{port}.ini"));
            fs::write(&config, settings(server.port(), port, &users)).expect("write pgbouncer's settings");
            let mut command = user.command(Path::new(BINARY));
            command
                .arg(&config)
                .current_dir(dir.path())
                .stdout(log.try_clone().expect("share pgbouncer's log"))
                .stderr(log);
            command
        };
        let listening = |port| TcpStream::connect(("127.0.0.1", port)).is_ok();
        let (port, daemon) = start_on_free_port(&launch, command, listening);
        Self { port, server_port: server.port(), _daemon: daemon, dir }
    }

    /// `url`, a database of the server behind, reached through pgbouncer instead.
    pub fn in_front(&self, url: &str) -> String {
        let direct = format!("@127.0.0.1:{}/", self.server_port);
        assert!(url.contains(&direct), "{url} is not a database of the server behind this pgbouncer");
        url.replacen(&direct, &format!("@127.0.0.1:{}/", self.port), 1)
    }

    /// What pgbouncer logged so far, for a failing test's message.
    pub fn log(&self) -> String {
        let logs = fs::read_dir(self.dir.path()).into_iter().flatten().flatten();
        let logs = logs.filter(|entry| entry.path().extension().is_some_and(|e| e == "log"));
        logs.map(|entry| fs::read_to_string(entry.path()).unwrap_or_default()).collect()
    }
}

/// pgbouncer's defaults (session pooling, startup parameters it does not know refused) but for
/// where it listens, where the server is, and who may connect.
fn settings(server_port: u16, port: u16, users: &Path) -> String {
    format!(
        "[databases]\n* = host=127.0.0.1 port={server_port}\n\n\
         [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
         auth_type = trust\nauth_file = {}\n",
        users.display()
    )
}
