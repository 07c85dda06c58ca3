//! The schema: each backend's migrations, embedded, and how PostgreSQL runs them when several
//! replicas start at once (or when a role may only read and write rows).

use sqlx::{
    PgPool, SqlSafeStr,
    migrate::{Migration, MigrationType, Migrator},
};

/// The files of `migrations/<backend>/`, embedded, as `version => "file name without .sql"`
/// (sqlx's `migrate!` would list them itself, but needs the `macros` feature). A released
/// migration never changes: sqlx refuses one whose checksum differs from what it applied.
macro_rules! migrations {
    ($backend:literal: $($version:literal => $file:literal),+ $(,)?) => {
        Migrator::with_migrations(vec![$(
            Migration::new(
                $version,
                $file.into(),
                MigrationType::Simple,
                include_str!(concat!("../migrations/", $backend, "/", $file, ".sql")).into_sql_str(),
                // In a transaction: on PostgreSQL all of them run in the one that holds the
                // migration lock (`migrate_postgres`), so none can be `CONCURRENTLY`.
                false,
            )
        ),+])
    };
}

pub(crate) fn sqlite_migrations() -> Migrator {
    migrations!("sqlite": 1 => "0001_conversations", 2 => "0002_latency")
}

fn postgres_migrations() -> Migrator {
    migrations!("postgres": 1 => "0001_conversations", 2 => "0002_latency")
}

/// The advisory lock replicas take turns by while migrating (any number unique to this use in
/// the database: "STREAMBD" in ASCII).
const MIGRATION_LOCK: i64 = 0x5354_5245_414D_4244;

/// Runs the migrations in one transaction holding a transaction-level advisory lock, so replicas
/// starting together take turns, and the lock is given back at the commit (or when the
/// connection drops) whatever happens. sqlx's own lock is session-level, taken and released by
/// separate statements, which a pooler in transaction mode (pgbouncer) may send to different
/// server connections: the lock is then left held and the next start waits for it, silently.
/// In one transaction every statement stays on one server connection; sqlx runs each migration
/// under a savepoint of it.
pub(crate) async fn migrate_postgres(pool: &PgPool) -> Result<(), sqlx::Error> {
    let mut migrator = postgres_migrations();
    if up_to_date(pool, &migrator).await? {
        return Ok(());
    }
    let mut transaction = pool.begin().await?;
    let free: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .fetch_one(&mut *transaction)
        .await?;
    if !free {
        tracing::info!("another server is migrating the conversation database: waiting for it");
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *transaction)
            .await?;
    }
    migrator.set_locking(false);
    // `run_direct`, not `run`: `run` over a borrowed connection makes a future the compiler
    // cannot prove `Send` ("implementation of `Acquire` is not general enough"), which is what
    // sqlx says `run_direct` is for.
    migrator.run_direct(None, &mut *transaction, false).await?;
    transaction.commit().await
}

/// Whether the database has every migration of `migrator` and no other, told by reading alone:
/// so a role that may only read and write rows (no CREATE on the schema, as least privilege
/// would have it once the tables exist) starts, where the migrator's first statement, `CREATE
/// TABLE IF NOT EXISTS`, needs that right even with nothing to do. A migration this build does
/// not know is the migrator's own error, [`MigrateError::VersionMissing`](sqlx::migrate::MigrateError).
async fn up_to_date(pool: &PgPool, migrator: &Migrator) -> Result<bool, sqlx::Error> {
    let migrated: bool =
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(pool).await?;
    if !migrated {
        return Ok(false);
    }
    let applied: Vec<(i64, Vec<u8>)> =
        sqlx::query_as("SELECT version, checksum FROM _sqlx_migrations WHERE success")
            .fetch_all(pool)
            .await?;
    if let Some((unknown, _)) =
        applied.iter().find(|(version, _)| !migrator.iter().any(|m| m.version == *version))
    {
        return Err(sqlx::Error::Migrate(Box::new(sqlx::migrate::MigrateError::VersionMissing(*unknown))));
    }
    Ok(migrator
        .iter()
        .all(|m| applied.iter().any(|(version, checksum)| *version == m.version && *checksum == *m.checksum)))
}
