//! Opening the database named by `DATABASE_URL`, and the one place that tells the backends
//! apart.
//!
//! Why an enum of pools and a macro rather than one generic `impl<DB: Database>`: sqlx's
//! generic bounds (executor, encode and decode for every bound and read type, under
//! higher-ranked lifetimes) would be a dozen where-clauses repeated on every helper, and its
//! `Any` driver cannot carry UUID, TIMESTAMPTZ or JSONB, which PostgreSQL deserves. With
//! [`with_pool!`] each store operation is written once, over the SQL in [`crate::sql`], and
//! the compiler checks it once per concrete backend.

use std::{str::FromStr, time::Duration};

use sqlx::{
    Connection, PgConnection, PgPool, SqliteConnection, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
};

use crate::{
    migrate::{migrate_postgres, sqlite_migrations},
    sql,
    timestamp::Timestamp,
};

/// How long a SQLite writer waits for another to finish before failing with "database is locked".
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long opening waits for a database that refuses connections (a PostgreSQL still starting),
/// and how long a SQLite operation waits for a connection of its pool.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a PostgreSQL operation waits for a connection: a database out of reach (restarting,
/// an RDS failover) is a 503 within seconds, not after [`ACQUIRE_TIMEOUT`]. Opening tries again
/// for up to [`ACQUIRE_TIMEOUT`] in all.
const POSTGRES_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Reading connections per process: WAL lets readers run beside the writer.
const SQLITE_READERS: u32 = 8;

/// SQLite gets one connection that writes and a few that read. It allows one writer at a time
/// anyway, and writers that find the database locked wait in SQLite's busy handler, which
/// sleeps and polls (1, 2, 5, 10, … 100 ms): under a burst of turns that made the wait, not the
/// writing, most of a stored turn's time to first token. With one writing connection, writes
/// queue in the pool instead, each starting the moment the last one ends. A clone shares the
/// same pools.
#[derive(Debug, Clone)]
pub(crate) enum Pools {
    Sqlite { read: SqlitePool, write: SqlitePool },
    Postgres(PgPool),
}

/// Evaluates `$body` with `$pool` bound to the concrete pool for reading: the same code,
/// compiled once for SQLite and once for PostgreSQL. Both expansions must have the same type.
macro_rules! with_pool {
    ($pools:expr, |$pool:ident| $body:expr) => {
        match $pools {
            $crate::backend::Pools::Sqlite { read: $pool, .. } => $body,
            $crate::backend::Pools::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_pool;

/// [`with_pool!`] for an operation that writes: SQLite's writing connection.
macro_rules! with_writer {
    ($pools:expr, |$pool:ident| $body:expr) => {
        match $pools {
            $crate::backend::Pools::Sqlite { write: $pool, .. } => $body,
            $crate::backend::Pools::Postgres($pool) => $body,
        }
    };
}
pub(crate) use with_writer;

/// How long opening waits between tries of a PostgreSQL server that refused.
const RETRY_AFTER: Duration = Duration::from_millis(250);

/// Whether a failed connection may be a PostgreSQL server still starting: refused or cut off,
/// or `57P03` ("the database system is starting up").
fn starting(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) => true,
        sqlx::Error::Database(e) => e.code().as_deref() == Some("57P03"),
        _ => false,
    }
}

impl Pools {
    /// `postgres://`/`postgresql://` URLs (`sslmode=require` and friends work: rustls), with at
    /// most `postgres_connections` connections, or `sqlite:` ones; then the migrations.
    pub(crate) async fn open(url: &str, postgres_connections: u32) -> Result<Self, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // sqlx asks for `extra_float_digits` at start-up by default, which pgbouncer refuses
            // unless told to ignore it; no column here is a float, and PostgreSQL 12 on writes
            // them exactly anyway.
            let connect = PgConnectOptions::from_str(url)?.extra_float_digits(None);
            let options = PgPoolOptions::new()
                .max_connections(postgres_connections)
                .acquire_timeout(POSTGRES_ACQUIRE_TIMEOUT);
            // One connection first, tried again while the server may still be starting: its error
            // says why it failed (refused, a wrong password), where the pool's says only that
            // it timed out.
            let deadline = tokio::time::Instant::now() + ACQUIRE_TIMEOUT;
            loop {
                let first = tokio::time::timeout_at(deadline, PgConnection::connect_with(&connect)).await;
                let first = first.unwrap_or_else(|_| {
                    let silent = format!("no answer from the server within {ACQUIRE_TIMEOUT:?}");
                    Err(sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, silent)))
                });
                match first {
                    Ok(first) => {
                        let _ = first.close().await;
                        break;
                    }
                    // Tried again only with time for a whole attempt left: the error to report is
                    // this one (refused, say), not a try cut short.
                    Err(e)
                        if starting(&e)
                            && tokio::time::Instant::now() + RETRY_AFTER + RETRY_AFTER < deadline =>
                    {
                        tokio::time::sleep(RETRY_AFTER).await;
                    }
                    Err(e) => return Err(e),
                }
            }
            let pool = options.connect_with(connect).await?;
            migrate_postgres(&pool).await?;
            Ok(Self::Postgres(pool))
        } else if url.starts_with("sqlite:") {
            let (read, write) = open_sqlite(url).await?;
            sqlite_migrations().run(&write).await?;
            Ok(Self::Sqlite { read, write })
        } else {
            Err(sqlx::Error::Configuration(
                "expected a URL starting with sqlite: (a file) or postgres:// or postgresql:// (a server)"
                    .into(),
            ))
        }
    }

    /// Closes every connection, waiting for those in use to come back. On SQLite the write-ahead
    /// log is folded into the database file first: closing the last connection does that too,
    /// but not while another process (a `sqlite3` shell, a backup) has the file open.
    pub(crate) async fn close(&self) {
        match self {
            Self::Sqlite { read, write } => {
                read.close().await;
                // A private in-memory database has no log, and its one pool is `read` too.
                if !write.is_closed() {
                    fold_the_log_in(write).await;
                }
                write.close().await;
            }
            Self::Postgres(pool) => pool.close().await,
        }
    }

    /// Which SQL dialect the database reads, where the two differ ([`sql::Dialect`]).
    pub(crate) fn dialect(&self) -> sql::Dialect {
        match self {
            Self::Sqlite { .. } => sql::Dialect::Sqlite,
            Self::Postgres(_) => sql::Dialect::Postgres,
        }
    }

    /// The clock leases are measured by. Replicas compare each other's leases, so on PostgreSQL
    /// it is the server's clock, not each replica's; SQLite has one host, whose clock this is.
    pub(crate) async fn clock(&self) -> Result<Timestamp, sqlx::Error> {
        match self {
            Self::Sqlite { .. } => Ok(Timestamp::now()),
            Self::Postgres(pool) => sqlx::query_scalar(sql::POSTGRES_NOW).fetch_one(pool).await,
        }
    }
}

/// Folds the write-ahead log into the database file, waiting at most a second for another
/// process reading it (a checkpoint it blocks is a row saying so, not an error).
async fn fold_the_log_in(write: &SqlitePool) {
    let folded = async {
        sqlx::query("PRAGMA busy_timeout = 1000").execute(write).await?;
        sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(TRUNCATE)").fetch_one(write).await
    };
    match folded.await {
        Ok((0, _, _)) => {}
        Ok((_busy, _, _)) => tracing::warn!(
            "another process kept the write-ahead log from being folded into the database file: \
             copy the -wal file beside it too, or let that process end first"
        ),
        Err(e) => tracing::warn!(error = %e, "cannot fold the write-ahead log into the database file"),
    }
}

/// Whether a `sqlite:` URL names a private in-memory database rather than a file.
fn in_memory(url: &str) -> bool {
    url.contains(":memory:") || url.contains("mode=memory")
}

/// Where `url` keeps the conversations, for the start-up log: the SQLite file's whole path (a
/// relative one is read from the working directory), or the PostgreSQL server and database,
/// never the password. `None` for a URL that does not parse (opening it says why).
pub(crate) fn location(url: &str) -> Option<String> {
    if url.starts_with("sqlite:") {
        let options = SqliteConnectOptions::from_str(url).ok()?;
        if in_memory(url) {
            return Some("in memory: nothing is kept after the server stops".into());
        }
        let file = std::path::absolute(options.get_filename()).ok()?;
        Some(format!("SQLite file {}", file.display()))
    } else {
        let options = PgConnectOptions::from_str(url).ok()?;
        let database = options.get_database().unwrap_or(options.get_username());
        let server = match options.get_socket() {
            Some(folder) => format!("the socket in {}", folder.display()),
            None => format!("{}:{}", options.get_host(), options.get_port()),
        };
        Some(format!("PostgreSQL database {database} on {server} as {}", options.get_username()))
    }
}

/// Whether the writing connection may go back to its pool: yes once out of any transaction.
/// A transaction dropped unfinished leaves its rollback queued, run here. One that SQLite ended
/// by itself (a full disk fails a statement with SQLITE_FULL and rolls the whole transaction
/// back) leaves sqlx counting it open, as its ROLLBACK then fails: its next `begin` would be a
/// SAVEPOINT and a failure there a ROLLBACK TO, which ends no transaction, so the connection
/// would hold SQLite's write lock for good and every later write would vanish uncommitted.
/// Such a connection is closed (SQLite rolls back whatever it held) and the next write opens
/// a fresh one. A committed or rolled back connection costs nothing here.
async fn out_of_any_transaction(connection: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    if !connection.is_in_transaction() {
        return Ok(true);
    }
    connection.ping().await?;
    Ok(!connection.is_in_transaction())
}

/// A file (its folder created when missing) in WAL mode, so readers never wait for the writer
/// and writers wait their turn; or, for `sqlite::memory:`, a private in-memory database.
async fn open_sqlite(url: &str) -> Result<(SqlitePool, SqlitePool), sqlx::Error> {
    let options = SqliteConnectOptions::from_str(url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // In WAL mode, NORMAL loses nothing when the process dies, only on power loss.
        .synchronous(SqliteSynchronous::Normal)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT);
    if in_memory(url) {
        // Each connection to `:memory:` would be a database of its own, and the last one to
        // close takes the data with it: one connection, kept for the pool's whole life.
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        return Ok((pool.clone(), pool));
    }
    if options.get_filename().as_os_str().is_empty() {
        // SQLite would give each connection a private temporary database of its own: the
        // migrations would reach the writer's alone.
        return Err(sqlx::Error::Configuration(
            "the URL names no file: sqlite:data/streambed.db for a file, sqlite::memory: to keep nothing"
                .into(),
        ));
    }
    if let Some(folder) = options.get_filename().parent().filter(|folder| !folder.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder).map_err(|e| {
            sqlx::Error::Configuration(format!("cannot create the folder {}: {e}", folder.display()).into())
        })?;
    }
    // No ping before each use: a SQLite connection does not go stale, and the ping is one more
    // round trip to the connection's thread per statement.
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .after_release(|connection, _| Box::pin(out_of_any_transaction(connection)))
        .connect_with(options.clone())
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(SQLITE_READERS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .connect_with(options)
        .await?;
    Ok((read, write))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a full disk does to a transaction (SQLITE_FULL, which rolls the whole of it back),
    /// on demand: a trigger that ends the transaction the same way.
    const FULL_DISK: &str = "CREATE TEMP TRIGGER full_disk BEFORE INSERT ON replicas \
        WHEN NEW.expires_at = 0 BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END";

    async fn insert(id: u8, expires_at: i64, on: impl sqlx::SqliteExecutor<'_>) -> Result<(), sqlx::Error> {
        sqlx::query("INSERT INTO replicas (id, expires_at) VALUES ($1, $2)")
            .bind(vec![id])
            .bind(expires_at)
            .execute(on)
            .await
            .map(drop)
    }

    #[tokio::test]
    async fn writes_after_a_transaction_sqlite_rolled_back_itself_are_committed() {
        let dir = streambed_testkit::scratch_dir("backend");
        let url = format!("sqlite:{}", dir.path().join("streambed.db").display());
        let Pools::Sqlite { read, write } = Pools::open(&url, 1).await.unwrap() else { unreachable!() };
        sqlx::query(FULL_DISK).execute(&write).await.unwrap();

        let mut tx = write.begin().await.unwrap();
        insert(1, 1, &mut *tx).await.unwrap();
        insert(2, 0, &mut *tx).await.expect_err("the disk is full");
        drop(tx);
        // A transaction that fails as any may (a duplicate key), rolled back as usual.
        let mut tx = write.begin().await.unwrap();
        insert(3, 1, &mut *tx).await.unwrap();
        insert(3, 1, &mut *tx).await.expect_err("a duplicate key");
        drop(tx);
        insert(4, 1, &write).await.unwrap();

        let ids: Vec<Vec<u8>> = sqlx::query_scalar("SELECT id FROM replicas").fetch_all(&read).await.unwrap();
        assert_eq!(ids, [vec![4]], "committed, and seen by the readers");
    }

    #[test]
    fn the_location_names_the_file_or_the_server_never_the_password() {
        let file = location("sqlite:data/streambed.db").unwrap();
        assert!(file.starts_with("SQLite file /") && file.ends_with("/data/streambed.db"), "{file}");
        assert_eq!(location("sqlite::memory:").unwrap(), "in memory: nothing is kept after the server stops");
        assert_eq!(
            location("postgres://app:s3cret@db.internal:5433/chat?sslmode=require").unwrap(),
            "PostgreSQL database chat on db.internal:5433 as app"
        );
        assert_eq!(
            location("postgres:///chat?host=/run/postgresql&user=app").unwrap(),
            "PostgreSQL database chat on the socket in /run/postgresql as app"
        );
    }

    #[tokio::test]
    async fn a_full_disk_is_told_apart() {
        let dir = streambed_testkit::scratch_dir("backend");
        let url = format!("sqlite:{}", dir.path().join("streambed.db").display());
        let Pools::Sqlite { write, .. } = Pools::open(&url, 1).await.unwrap() else { unreachable!() };
        // As full as it is now: SQLite fails the next page it needs with SQLITE_FULL.
        let pages: i64 = sqlx::query_scalar("PRAGMA page_count").fetch_one(&write).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("PRAGMA max_page_count = {pages}")))
            .execute(&write)
            .await
            .unwrap();

        let error = sqlx::query("INSERT INTO replicas (id, expires_at) VALUES (randomblob(100000), 1)")
            .execute(&write)
            .await
            .expect_err("no room");

        assert!(crate::StoreError::from(error).disk_full());
        assert!(!crate::StoreError::NotFound.disk_full());
    }
}
