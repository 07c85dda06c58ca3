//! The parts every test server is built from: a free loopback port, a bounded wait until the
//! server answers, the unprivileged user it runs as when the tests run as root, and a
//! supervised child process that cannot outlive the tests.

use std::{
    fs,
    io::{self, Write},
    net::TcpListener,
    os::unix::fs::MetadataExt,
    path::Path,
    process::{Child, Command, ExitStatus, Stdio},
    thread,
    time::{Duration, Instant},
};

/// How often [`wait_until`] and [`Daemon`]'s shutdown look again.
const POLL: Duration = Duration::from_millis(50);

/// How long a stopping server may take before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A loopback port that was free a moment ago. Another process may take it before the server
/// binds it, so a starter retries with a new port when its server finds the address in use.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .expect("bind a free loopback port")
        .port()
}

/// Asks `probe` every 50 ms until it answers `Some`, for at most `timeout`; past that, panics
/// naming `what` was awaited.
pub fn wait_until<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(answer) = probe() {
            return answer;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what} after {timeout:?}");
        thread::sleep(POLL);
    }
}

/// Who a server runs as. Database servers refuse to run as root, so when the tests do (CI,
/// containers), servers run as an unprivileged system user: `postgres` where Debian's package
/// created it, `nobody` otherwise.
#[derive(Debug, Clone, Copy)]
pub struct RunAs {
    /// `(uid, gid)` to switch to; `None` runs as the current user.
    ids: Option<(u32, u32)>,
}

impl RunAs {
    pub fn unprivileged() -> Self {
        let root = fs::metadata("/proc/self").is_ok_and(|me| me.uid() == 0);
        if !root {
            return Self { ids: None };
        }
        let ids = ["postgres", "nobody"]
            .into_iter()
            .find_map(|user| Some((id(user, "-u")?, id(user, "-g")?)))
            .expect("running as root, but neither the `postgres` nor the `nobody` user exists");
        Self { ids: Some(ids) }
    }

    /// A command running `program` as this user (through `setpriv`, which execs it: the child's
    /// pid is the server's, so signals reach it).
    pub fn command(&self, program: &Path) -> Command {
        let Some((uid, gid)) = self.ids else {
            return Command::new(program);
        };
        let mut command = Command::new("setpriv");
        command
            .arg(format!("--reuid={uid}"))
            .arg(format!("--regid={gid}"))
            .arg("--clear-groups")
            .arg("--")
            .arg(program);
        command
    }

    /// Hands `dir` to this user so the server can write there.
    pub fn own(&self, dir: &Path) {
        if let Some((uid, gid)) = self.ids {
            std::os::unix::fs::chown(dir, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown {} to {uid}:{gid}: {e}", dir.display()));
        }
    }
}

/// `id -u user` or `id -g user`.
fn id(user: &str, which: &str) -> Option<u32> {
    let output = Command::new("id").args([which, user]).output().ok()?;
    output.status.success().then_some(())?;
    String::from_utf8(output.stdout).ok()?.trim().parse().ok()
}

/// Stands by for the test process: when its stdin closes without the word `done` (the tests
/// ended without dropping the [`Daemon`], as with a `static`), it stops the server, kills it
/// if it lingers, and removes its directory. Arguments: pid, stop signal, directory.
const WATCHDOG: &str = r#"
read -r word
[ "$word" = done ] && exit 0
kill -s "$2" "$1" 2>/dev/null
i=0
while kill -0 "$1" 2>/dev/null && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
kill -s KILL "$1" 2>/dev/null
rm -rf "$3"
"#;

/// A server process that is stopped when dropped, and also when the test process exits without
/// dropping it: a small watchdog shell holds the other end of a pipe and acts once it closes.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    watchdog: Child,
    /// Signal for a clean, fast shutdown (`INT` for PostgreSQL, `TERM` for most servers).
    stop_signal: &'static str,
}

impl Daemon {
    /// Starts `command` (its stdin is closed); `dir` is what the watchdog removes should the
    /// tests end without dropping the daemon.
    pub fn spawn(mut command: Command, stop_signal: &'static str, dir: &Path) -> io::Result<Self> {
        let mut child = command.stdin(Stdio::null()).spawn()?;
        let watchdog = Command::new("sh")
            .args(["-c", WATCHDOG, "watchdog"])
            .arg(child.id().to_string())
            .arg(stop_signal)
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        match watchdog {
            Ok(watchdog) => Ok(Self { child, watchdog, stop_signal }),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(e)
            }
        }
    }

    /// The exit status, once the server has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.exited().is_none() {
            let _ =
                Command::new("kill").args(["-s", self.stop_signal, &self.child.id().to_string()]).status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while self.exited().is_none() && Instant::now() < deadline {
                thread::sleep(POLL);
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(mut stdin) = self.watchdog.stdin.take() {
            let _ = stdin.write_all(b"done\n");
        }
        let _ = self.watchdog.wait();
    }
}

/// How to start a server on a port of its own, for [`start_on_free_port`].
#[derive(Debug)]
pub struct Launch<'a> {
    /// What is started, for messages ("PostgreSQL").
    pub what: &'a str,
    /// The folder the server works in; its logs go there.
    pub dir: &'a Path,
    /// The signal that stops it cleanly.
    pub stop_signal: &'static str,
    /// What its log says when another process took the port first.
    pub port_taken: &'a str,
    pub timeout: Duration,
}

/// Starts the server `command(port, log)` makes, on a free port, and waits until `ready(port)`;
/// another process may take the port first, so a start whose log says so is tried again on
/// another. Panics with the log when the server exits for any other reason.
pub fn start_on_free_port(
    launch: &Launch<'_>,
    command: impl Fn(u16, fs::File) -> Command,
    ready: impl Fn(u16) -> bool,
) -> (u16, Daemon) {
    const ATTEMPTS: u32 = 5;
    for attempt in 1..=ATTEMPTS {
        let port = free_port();
        let log_path = launch.dir.join(format!("{}-{attempt}.log", launch.what.to_lowercase()));
        let log =
            fs::File::create(&log_path).unwrap_or_else(|e| panic!("create {}: {e}", log_path.display()));
        let mut daemon = Daemon::spawn(command(port, log), launch.stop_signal, launch.dir)
            .unwrap_or_else(|e| panic!("start {}: {e}", launch.what));
        let started = wait_until(&format!("{} to answer", launch.what), launch.timeout, || {
            if daemon.exited().is_some() {
                return Some(false);
            }
            ready(port).then_some(true)
        });
        if started {
            return (port, daemon);
        }
        let log = fs::read_to_string(&log_path).unwrap_or_default();
        assert!(
            log.contains(launch.port_taken) && attempt < ATTEMPTS,
            "{} exited while starting:\n{log}",
            launch.what
        );
    }
    unreachable!("the last attempt either starts or panics")
}
