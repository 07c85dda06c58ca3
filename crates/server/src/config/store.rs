//! The conversation store's variables: where the database is, how much one owner may keep, and
//! whether a server without authentication may store conversations at all.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use streambed_store::DEFAULT_POSTGRES_CONNECTIONS;

use super::{ConfigError, Vars};

/// `DATABASE_URL` when unset: an embedded SQLite file beside the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:data/streambed.db";

/// Stored conversations.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// `DATABASE_URL`: `sqlite:…` (default `sqlite:data/streambed.db`), `sqlite::memory:` for a
    /// throwaway run, or `postgres://…` for several replicas. May hold a password.
    pub database_url: SecretString,
    /// `DATABASE_MAX_CONNECTIONS`: connections this process opens to PostgreSQL at most (16);
    /// SQLite always has one writer and eight readers.
    pub max_connections: u32,
    /// `MAX_CONVERSATIONS_PER_OWNER`: conversations one owner may keep (1,000).
    pub max_conversations_per_owner: u64,
    /// `MAX_MESSAGES_PER_CONVERSATION`: messages, both sides, in one conversation (1,000).
    pub max_messages_per_conversation: u64,
    /// `CONVERSATIONS_WITHOUT_AUTH`: `true` stores conversations on a non-loopback address with
    /// no authentication, all visitors sharing one history (false: those routes answer 403).
    pub without_auth: bool,
    /// `MAX_RUNNING_ANSWERS_PER_OWNER`: answers one owner may have running at once, with or
    /// without a client attached (5).
    pub max_running_answers_per_owner: usize,
    /// `ANSWER_LEASE_SECONDS`: how long a replica's running answers stay `streaming` after it
    /// was last heard from; after that another replica marks them `interrupted` (15).
    pub lease: Duration,
}

impl StoreConfig {
    /// Whether other replicas may write the same database (PostgreSQL); a SQLite file has one
    /// server at a time, so any other lease in it is a stopped server's.
    pub fn shared_by_replicas(&self) -> bool {
        !self.database_url.expose_secret().starts_with("sqlite:")
    }
}

pub(super) fn read(vars: &Vars) -> Result<StoreConfig, ConfigError> {
    let database_url =
        vars.string("DATABASE_URL").map_or(DEFAULT_DATABASE_URL.to_owned(), |url| url.trim().to_owned());
    if !["sqlite:", "postgres://", "postgresql://"].iter().any(|scheme| database_url.starts_with(scheme)) {
        // The URL may carry a password: name the variable, not the value.
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with sqlite: (e.g. sqlite:data/streambed.db) or postgres:// (postgresql://)".into(),
        ));
    }
    Ok(StoreConfig {
        database_url: database_url.into(),
        max_connections: vars.at_least_one("DATABASE_MAX_CONNECTIONS", DEFAULT_POSTGRES_CONNECTIONS)?,
        max_conversations_per_owner: vars.at_least_one("MAX_CONVERSATIONS_PER_OWNER", 1000)?,
        max_messages_per_conversation: vars.at_least_one("MAX_MESSAGES_PER_CONVERSATION", 1000)?,
        without_auth: vars.parse("CONVERSATIONS_WITHOUT_AUTH", false, "true or false")?,
        max_running_answers_per_owner: vars.at_least_one("MAX_RUNNING_ANSWERS_PER_OWNER", 5)?,
        lease: vars.at_least_seconds("ANSWER_LEASE_SECONDS", 15.0, 1.0)?,
    })
}
