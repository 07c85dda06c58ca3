//! Opening: folders and files created, data kept across restarts, `sqlite::memory:`, and errors
//! for databases that cannot be opened.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use sqlx::{Connection, PgConnection};
use streambed_store::{DEFAULT_POSTGRES_CONNECTIONS, StoreError, open};
use streambed_testkit::{Pgbouncer, Postgres, scratch_dir};

use crate::harness::{ROOMY, TestDb, conversation_with_prompt, owner};

pub(crate) async fn reopening_keeps_the_data(db: TestDb) {
    let alice = owner("alice");
    let first = db.open().await;
    let conversation = conversation_with_prompt(&*first, &alice, "remember me").await;
    let before = first.get(&alice, conversation).await.unwrap();
    drop(first);

    // Opening again runs the migrations again: they must see they are done.
    let again = db.open().await;

    assert_eq!(again.get(&alice, conversation).await.unwrap(), before);
}

/// Rolling a deployment back: the older server refuses a database it cannot know the shape of,
/// and says why.
pub(crate) async fn a_database_a_newer_server_migrated_is_refused_naming_its_migration(db: TestDb) {
    db.open().await.close().await;
    db.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99, 'from a newer server', TRUE, '', 0)",
    )
    .await;

    let refused = streambed_store::open(db.url(), DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.unwrap_err();

    assert_eq!(refused.newer_schema(), Some(99), "{refused:?}");
}

#[tokio::test]
async fn sqlite_creates_the_folder_and_the_file_in_wal_mode() {
    let dir = scratch_dir("store");
    let file = dir.path().join("data/nested/streambed.db");
    let url = format!("sqlite:{}", file.display());

    let store = open(&url, DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.unwrap();
    conversation_with_prompt(&*store, &owner("alice"), "hello").await;

    assert!(file.is_file());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn sqlite_memory_is_one_private_database_per_store() {
    let alice = owner("alice");
    let store = open("sqlite::memory:", DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.unwrap();
    let other = open("sqlite::memory:", DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.unwrap();

    let conversation = conversation_with_prompt(&*store, &alice, "hello").await;
    // Enough for the pool to have handed out a connection more than once.
    for _ in 0..3 {
        assert_eq!(store.get(&alice, conversation).await.unwrap().messages.len(), 1);
    }

    assert_eq!(store.list(&alice, 10, None).await.unwrap().conversations.len(), 1);
    assert!(other.list(&alice, 10, None).await.unwrap().conversations.is_empty());
}

#[tokio::test]
async fn an_unwritable_sqlite_path_is_an_error() {
    let dir = scratch_dir("store");
    let not_a_folder = dir.path().join("file");
    std::fs::write(&not_a_folder, "").unwrap();

    let opened =
        open(&sqlite_url(&not_a_folder.join("streambed.db")), DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await;

    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
}

#[tokio::test]
async fn an_unknown_url_or_a_sqlite_url_without_a_file_is_an_error() {
    // `sqlite:` alone would give each connection a temporary database of its own.
    for url in ["mysql://localhost/streambed", "data/streambed.db", "", "sqlite:", "sqlite://"] {
        let opened = open(url, DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await;

        assert!(
            matches!(opened, Err(StoreError::Database(sqlx::Error::Configuration(_)))),
            "{url}: {opened:?}"
        );
    }
}

#[tokio::test]
async fn a_missing_postgres_database_is_an_error() {
    let server = Postgres::shared();
    let server_url = server.url();
    let (without_database, _) = server_url.rsplit_once('/').unwrap();
    let url = format!("{without_database}/no_such_database");

    let opened = open(&url, DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await;

    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
}

/// A PostgreSQL that does not accept connections yet (a server still starting, as when replicas
/// and their database start together) is tried again for up to 15 s in all; once the store is
/// open, an operation on a database out of reach fails after 5 s, not 15.
#[tokio::test]
async fn a_postgres_still_starting_is_waited_for_and_one_gone_is_reported_within_seconds() {
    let database = Postgres::shared().database("starting");
    // The port is bound, not listened on, until the "server" starts: connections are refused,
    // and no other test's server can take the port meanwhile (one did, once).
    let reserved = tokio::net::TcpSocket::new_v4().unwrap();
    reserved.bind(([127, 0, 0, 1], 0).into()).unwrap();
    let port = reserved.local_addr().unwrap().port();
    let (before_port, rest) = database.rsplit_once(':').unwrap();
    let (real_port, database_name) = rest.split_once('/').unwrap();
    let url = format!("{before_port}:{port}/{database_name}");
    let upstream = format!("127.0.0.1:{real_port}");
    let started = Instant::now();
    // The "server" starts listening 7 s from now: a proxy to the real one, whose connections
    // go when it is aborted.
    let server = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(7)).await;
        let listener = reserved.listen(64).unwrap();
        let mut connections = tokio::task::JoinSet::new();
        while let Ok((mut client, _)) = listener.accept().await {
            let upstream = upstream.clone();
            connections.spawn(async move {
                let mut server = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            });
        }
    });

    let store =
        open(&url, DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.expect("opened once the server listens");
    let waited = started.elapsed();
    server.abort();
    let _ = server.await;
    let gone = Instant::now();
    let listed = store.list(&owner("alice"), 10, None).await;
    let reported = gone.elapsed();

    assert!(waited >= Duration::from_secs(7), "it waited for the server: {waited:?}");
    assert!(matches!(listed, Err(StoreError::Database(_))), "{listed:?}");
    assert!(reported < Duration::from_secs(12), "reported in {reported:?}");
}

#[tokio::test]
async fn postgres_works_over_tls_with_sslmode_require() {
    // What RDS/Aurora deployments put in DATABASE_URL.
    let url = format!("{}?sslmode=require", Postgres::shared().database("over_tls"));

    let store = open(&url, DEFAULT_POSTGRES_CONNECTIONS, ROOMY).await.unwrap();
    conversation_with_prompt(&*store, &owner("alice"), "hello").await;

    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let encrypted: bool = sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(encrypted);
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite:{}", path.display())
}

/// pgbouncer with its defaults (session pooling), as an operator's first try of one would be:
/// it refuses startup parameters it does not know, such as the `extra_float_digits` sqlx asks
/// for unless told not to.
#[tokio::test]
async fn postgres_works_behind_pgbouncer_with_its_default_settings() {
    let server = Postgres::shared();
    let pooler = Pgbouncer::start(server);
    let url = pooler.in_front(&server.database("behind_pgbouncer"));
    let alice = owner("alice");

    let store = open(&url, 4, ROOMY).await.unwrap_or_else(|e| panic!("{e}\npgbouncer:\n{}", pooler.log()));
    let conversation = conversation_with_prompt(&*store, &alice, "hello").await;
    drop(store);
    let again = open(&url, 4, ROOMY).await.expect("opened again, its migrations seen as done");

    assert_eq!(again.get(&alice, conversation).await.unwrap().messages.len(), 1);
}

/// Replicas starting together take turns migrating: one that finds another migrating waits for
/// it, and the turn is held inside the migrations' transaction, so nothing stays held after
/// opening (a lock left behind would stall the next start, as a pooler in transaction mode made
/// sqlx's own session lock do).
#[tokio::test]
async fn opening_waits_for_another_servers_migrations_and_leaves_no_lock_held() {
    // The store's lock number ("STREAMBD" in ASCII).
    const MIGRATION_LOCK: i64 = 0x5354_5245_414D_4244;
    let url = Postgres::shared().database("migrating_in_turn");
    let mut other = PgConnection::connect(&url).await.unwrap();
    let mut migrating = other.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *migrating)
        .await
        .unwrap();

    let opening = tokio::spawn({
        let url = url.clone();
        async move { open(&url, 4, ROOMY).await }
    });
    // The opening store asks for the lock and waits: PostgreSQL shows it waiting.
    let mut waited = false;
    for _ in 0..200 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
             WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = current_database()",
        )
        .fetch_one(&mut *migrating)
        .await
        .unwrap();
        if waiting == 1 {
            waited = !opening.is_finished();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    migrating.commit().await.unwrap();
    let store = tokio::time::timeout(Duration::from_secs(30), opening).await.unwrap().unwrap().unwrap();

    assert!(waited, "opened while another server was migrating");
    conversation_with_prompt(&*store, &owner("alice"), "hello").await;
    let held: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database \
         WHERE l.locktype = 'advisory' AND d.datname = current_database()",
    )
    .fetch_one(&mut other)
    .await
    .unwrap();
    assert_eq!(held, 0, "advisory locks still held after opening");
}

/// Least privilege: once the tables exist, the server's role needs no right to create any.
#[tokio::test]
async fn a_role_that_may_only_read_and_write_rows_opens_a_migrated_database() {
    let postgres = Postgres::shared();
    let url = postgres.database("rows_only");
    open(&url, 4, ROOMY).await.unwrap().close().await;
    let mut admin = PgConnection::connect(&url).await.unwrap();
    for statement in [
        "CREATE ROLE rows_only LOGIN",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        "GRANT USAGE ON SCHEMA public TO rows_only",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO rows_only",
    ] {
        sqlx::raw_sql(statement).execute(&mut admin).await.unwrap();
    }
    let as_rows_only = url.replacen(postgres.superuser(), "rows_only", 1);
    let created = sqlx::raw_sql("CREATE TABLE mine (x int)")
        .execute(&mut PgConnection::connect(&as_rows_only).await.unwrap())
        .await;
    assert!(created.is_err(), "the role may not create tables");

    let store = open(&as_rows_only, 4, ROOMY).await.expect("opens without creating anything");

    conversation_with_prompt(&*store, &owner("alice"), "hello").await;
}

/// What a pooler that drops prepared statements makes PostgreSQL say is told apart, so the
/// server's start-up error can name the pooler's setting rather than the database.
#[tokio::test]
async fn a_lost_prepared_statement_is_told_apart_from_other_database_errors() {
    let url = Postgres::shared().database("lost_statement");
    let mut connection = PgConnection::connect(&url).await.unwrap();
    let run = |sql: &'static str| sqlx::raw_sql(sql);

    let missing = run("EXECUTE sqlx_s_1").execute(&mut connection).await.unwrap_err();
    run("PREPARE sqlx_s_2 AS SELECT 1").execute(&mut connection).await.unwrap();
    let twice = run("PREPARE sqlx_s_2 AS SELECT 1").execute(&mut connection).await.unwrap_err();
    let other = run("SELECT * FROM no_such_table").execute(&mut connection).await.unwrap_err();

    assert!(StoreError::Database(missing).lost_prepared_statement());
    assert!(StoreError::Database(twice).lost_prepared_statement());
    assert!(!StoreError::Database(other).lost_prepared_statement());
    assert!(!StoreError::NotFound.lost_prepared_statement());
}
