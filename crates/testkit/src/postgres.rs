//! A throwaway PostgreSQL server: `initdb` into a temporary directory, `postgres` on a free
//! loopback port with durability off (tests need speed, not crash safety), a fresh database per
//! test. It also speaks TLS (a self-signed certificate), so `sslmode=require`, as production
//! uses it, can be tested; plain connections work too.

use std::{
    fs::{self, File},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::Duration,
};

use crate::{
    TempDir,
    process::{Daemon, Launch, RunAs, start_on_free_port},
    scratch_dir,
};

/// Where Debian's `postgresql` package puts each major version's binaries.
const DEBIAN_VERSIONS: &str = "/usr/lib/postgresql";

/// The superuser `initdb` creates; every connection uses it, without a password, on loopback.
const SUPERUSER: &str = "streambed";

/// Starting takes a second or two; a busy 2-core CI machine may need much longer.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

/// A running PostgreSQL server, stopped and deleted when dropped.
///
/// ```no_run
/// let server = streambed_testkit::Postgres::shared();
/// let url = server.database("lists_newest_first"); // postgres://streambed@127.0.0.1:…/lists_newest_first
/// ```
#[derive(Debug)]
pub struct Postgres {
    port: u16,
    bin: PathBuf,
    // Only dropped: declared before `dir`, so the server stops before its directory goes.
    _daemon: Daemon,
    dir: TempDir,
}

impl Postgres {
    /// Starts a new server of its own. Panics, saying what to install, when PostgreSQL is missing.
    pub fn start() -> Self {
        let bin = bin_dir();
        let user = RunAs::unprivileged();
        let dir = scratch_dir("postgres");
        user.own(dir.path());
        let data = dir.path().join("data");
        run(user
            .command(&bin.join("initdb"))
            .arg("--pgdata")
            .arg(&data)
            .args(["--username", SUPERUSER, "--auth=trust", "--encoding=UTF8", "--locale=C"])
            .arg("--no-sync")
            .current_dir(dir.path()));
        // Made as the server's user, so the key is its own and private, as PostgreSQL insists.
        run(user
            .command(Path::new("openssl"))
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
            .args(["-keyout", "server.key", "-out", "server.crt", "-subj", "/CN=localhost", "-days", "7"])
            .current_dir(dir.path()));

        let launch = Launch {
            what: "PostgreSQL",
            dir: dir.path(),
            stop_signal: "INT",
            port_taken: "could not bind",
            timeout: STARTUP_TIMEOUT,
        };
        let (port, daemon) = start_on_free_port(
            &launch,
            |port, log| server_command(&user, &bin, dir.path(), port, log),
            |port| accepts_connections(&bin, port),
        );
        Self { port, bin, _daemon: daemon, dir }
    }

    /// One server for the whole test binary, started by the first test that asks. Tests share
    /// it through their own [`database`](Self::database)s; it stops when the binary exits.
    pub fn shared() -> &'static Self {
        static SHARED: OnceLock<Postgres> = OnceLock::new();
        SHARED.get_or_init(Self::start)
    }

    /// Creates the empty database `name` (lower-case letters, digits and `_`, unique on this
    /// server: a test's name does) and returns its URL.
    pub fn database(&self, name: &str) -> String {
        assert!(
            !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "database name {name:?}: use lower-case letters, digits and _"
        );
        run(Command::new(self.bin.join("createdb"))
            .args(["--host", "127.0.0.1", "--port", &self.port.to_string(), "--username", SUPERUSER, name])
            .current_dir(self.dir.path()));
        self.url_of(name)
    }

    /// The URL of the `postgres` database every server has.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The role every URL of this server connects as.
    pub fn superuser(&self) -> &'static str {
        SUPERUSER
    }

    fn url_of(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }
}

/// The newest installed version's `bin` folder.
fn bin_dir() -> PathBuf {
    let newest = fs::read_dir(DEBIAN_VERSIONS).ok().and_then(|versions| {
        versions
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|version| Path::new(DEBIAN_VERSIONS).join(format!("{version}/bin/postgres")).exists())
            .max()
    });
    let Some(version) = newest else {
        panic!("PostgreSQL is not installed: apt-get install postgresql (looked in {DEBIAN_VERSIONS}/*/bin)");
    };
    Path::new(DEBIAN_VERSIONS).join(format!("{version}/bin"))
}

fn server_command(user: &RunAs, bin: &Path, dir: &Path, port: u16, log: File) -> Command {
    let mut command = user.command(&bin.join("postgres"));
    command
        .arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string(), "-h", "127.0.0.1"])
        .arg("-k") // the Unix socket, in the test's own directory rather than /var/run/postgresql
        .arg(dir)
        .args(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"])
        .args(["-c", "max_connections=200"])
        .args(["-c", "ssl=on", "-c"])
        .arg(format!("ssl_cert_file={}", dir.join("server.crt").display()))
        .arg("-c")
        .arg(format!("ssl_key_file={}", dir.join("server.key").display()))
        .current_dir(dir)
        .stdout(log.try_clone().expect("share the PostgreSQL log"))
        .stderr(log);
    command
}

fn accepts_connections(bin: &Path, port: u16) -> bool {
    Command::new(bin.join("pg_isready"))
        .args(["--quiet", "--host", "127.0.0.1", "--port", &port.to_string(), "--username", SUPERUSER])
        .args(["--dbname", "postgres", "--timeout", "2"])
        .stdin(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs a tool to completion; panics with its output when it fails.
fn run(command: &mut Command) {
    let output = command.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("run {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[cfg(test)]
mod tests {
    use std::{net::TcpStream, thread};

    use super::*;

    #[test]
    fn servers_start_side_by_side_and_vanish_when_dropped() {
        let starting: Vec<_> = (0..2).map(|_| thread::spawn(Postgres::start)).collect();
        let servers: Vec<Postgres> = starting.into_iter().map(|s| s.join().unwrap()).collect();
        let (port, dir) = (servers[0].port(), servers[0].dir.path().to_owned());

        let url = servers[0].database("fresh_one");

        assert_ne!(servers[0].port(), servers[1].port());
        assert_eq!(url, format!("postgres://{SUPERUSER}@127.0.0.1:{port}/fresh_one"));
        drop(servers);
        assert!(!dir.exists(), "{} is left behind", dir.display());
        assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "still listening on {port}");
    }
}
