//! Opening: folders and files created, data kept across restarts, `sqlite::memory:`, and errors
//! for databases that cannot be opened.

use std::path::Path;

use streambed_store::{StoreError, open};
use streambed_testkit::{Postgres, scratch_dir};

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

#[tokio::test]
async fn sqlite_creates_the_folder_and_the_file_in_wal_mode() {
    let dir = scratch_dir("store");
    let file = dir.path().join("data/nested/streambed.db");
    let url = format!("sqlite:{}", file.display());

    let store = open(&url, ROOMY).await.unwrap();
    conversation_with_prompt(&*store, &owner("alice"), "hello").await;

    assert!(file.is_file());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn sqlite_memory_is_one_private_database_per_store() {
    let alice = owner("alice");
    let store = open("sqlite::memory:", ROOMY).await.unwrap();
    let other = open("sqlite::memory:", ROOMY).await.unwrap();

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

    let opened = open(&sqlite_url(&not_a_folder.join("streambed.db")), ROOMY).await;

    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
}

#[tokio::test]
async fn an_unknown_url_or_a_sqlite_url_without_a_file_is_an_error() {
    // `sqlite:` alone would give each connection a temporary database of its own.
    for url in ["mysql://localhost/streambed", "data/streambed.db", "", "sqlite:", "sqlite://"] {
        let opened = open(url, ROOMY).await;

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

    let opened = open(&url, ROOMY).await;

    assert!(matches!(opened, Err(StoreError::Database(_))), "{opened:?}");
}

#[tokio::test]
async fn postgres_works_over_tls_with_sslmode_require() {
    // What RDS/Aurora deployments put in DATABASE_URL.
    let url = format!("{}?sslmode=require", Postgres::shared().database("over_tls"));

    let store = open(&url, ROOMY).await.unwrap();
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
