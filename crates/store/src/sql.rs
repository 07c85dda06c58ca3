//! Every statement the store runs, in the dialect SQLite and PostgreSQL share: `$n` parameters
//! (SQLite reads them by number too), `RETURNING`, row-value comparison, `ON CONFLICT`. Times
//! and ids are bound from Rust, so only [`POSTGRES_NOW`] belongs to one backend.

use std::sync::LazyLock;

/// Inserts a conversation unless its owner is at the limit (`$5`): no row back means full.
/// One statement, so SQLite's single writer makes it exact; concurrent creates by one owner on
/// PostgreSQL may overshoot by a few, which a per-owner soft limit tolerates.
pub(crate) const CREATE: &str = "\
    INSERT INTO conversations (id, owner, title, created_at, updated_at) \
    SELECT $1, $2, $3, $4, $4 \
    WHERE (SELECT count(*) FROM conversations WHERE owner = $2) < $5 \
    RETURNING id, title, model, created_at, updated_at";

pub(crate) const LIST_FIRST: &str = "\
    SELECT id, title, model, created_at, updated_at FROM conversations \
    WHERE owner = $1 \
    ORDER BY updated_at DESC, id DESC LIMIT $2";

pub(crate) const LIST_BEFORE: &str = "\
    SELECT id, title, model, created_at, updated_at FROM conversations \
    WHERE owner = $1 AND (updated_at, id) < ($3, $4) \
    ORDER BY updated_at DESC, id DESC LIMIT $2";

pub(crate) const GET: &str = "\
    SELECT id, title, model, created_at, updated_at FROM conversations \
    WHERE id = $1 AND owner = $2";

pub(crate) const RENAME: &str = "\
    UPDATE conversations SET title = $3, updated_at = $4 \
    WHERE id = $1 AND owner = $2 \
    RETURNING id, title, model, created_at, updated_at";

pub(crate) const DELETE: &str = "DELETE FROM conversations WHERE id = $1 AND owner = $2";

/// A new turn: bumps `updated_at`, names an untitled conversation (`$5`), sets the model when
/// one is given (`$4`).
pub(crate) const TOUCH: &str = "\
    UPDATE conversations \
    SET updated_at = $3, model = COALESCE($4, model), \
        title = CASE WHEN title = '' THEN $5 ELSE title END \
    WHERE id = $1 AND owner = $2";

/// An answer a retried question replaces (see `turn`).
pub(crate) const DELETE_MESSAGE: &str = "DELETE FROM messages WHERE id = $1";

/// `id, conversation_id, role, content, status, model, replica_id, created_at`.
pub(crate) const INSERT_MESSAGE: &str = "\
    INSERT INTO messages (id, conversation_id, role, content, status, model, replica_id, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";

/// [`INSERT_MESSAGE`] for a turn's question and answer together (`$9`…`$16` the second row).
const INSERT_TWO_MESSAGES: &str = "\
    INSERT INTO messages (id, conversation_id, role, content, status, model, replica_id, created_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8), ($9, $10, $11, $12, $13, $14, $15, $16)";

/// Inserts one message row, or two.
pub(crate) fn insert_messages(rows: usize) -> &'static str {
    match rows {
        1 => INSERT_MESSAGE,
        2 => INSERT_TWO_MESSAGES,
        _ => unreachable!("a turn inserts its question, its answer, or both"),
    }
}

pub(crate) const MESSAGES: &str = "\
    SELECT id, role, content, status, model, reasoning, parts, usage, stop_reason, error_code, created_at \
    FROM messages WHERE conversation_id = $1 \
    ORDER BY created_at, id";

/// The most answers one [`append`] statement writes.
pub(crate) const APPEND_ROWS: usize = 128;

/// Appends text and reasoning to up to `rows` answers in one statement, with `id, text,
/// reasoning` bound for each (`$1, $2, $3`, then `$4, $5, $6`, …). Only `streaming` rows: an
/// answer already swept to `interrupted` stays so. One statement per flush for every answer
/// in progress, rather than one per answer: on SQLite each statement is a round trip to the
/// connection's thread, which is what a busy server's writes cost. The statement comes in
/// powers of two up to [`APPEND_ROWS`] rows, so a few prepared statements serve every batch;
/// a batch pads out with rows that name no message.
pub(crate) fn append(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> =
        LazyLock::new(|| (0..=APPEND_ROWS.ilog2()).map(|power| append_statement(1 << power)).collect());
    &BY_POWER[rows.clamp(1, APPEND_ROWS).next_power_of_two().ilog2() as usize]
}

fn append_statement(rows: usize) -> String {
    let param = |row: usize, column: usize| format!("${}", 3 * row + column + 1);
    let case = |column| {
        let arms: String =
            (0..rows).map(|row| format!(" WHEN {} THEN {}", param(row, 0), param(row, column))).collect();
        format!("CASE id{arms} ELSE '' END")
    };
    let ids = (0..rows).map(|row| param(row, 0)).collect::<Vec<_>>().join(", ");
    format!(
        "UPDATE messages SET content = content || {}, reasoning = reasoning || {} \
         WHERE status = 'streaming' AND id IN ({ids})",
        case(1),
        case(2)
    )
}

pub(crate) const FINISH: &str = "\
    UPDATE messages \
    SET content = content || $2, reasoning = reasoning || $3, \
        status = $4, usage = $5, stop_reason = $6, error_code = $7, parts = $8 \
    WHERE id = $1 AND status = 'streaming'";

/// `replica, expires_at`.
pub(crate) const HEARTBEAT: &str = "\
    INSERT INTO replicas (id, expires_at) VALUES ($1, $2) \
    ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at";

/// `replica` (the sweeper, never swept), `now`. An answer is live only while its replica holds
/// an unexpired lease.
pub(crate) const SWEEP: &str = "\
    UPDATE messages SET status = 'interrupted' \
    WHERE status = 'streaming' AND replica_id <> $1 \
      AND NOT EXISTS ( \
        SELECT 1 FROM replicas \
        WHERE replicas.id = messages.replica_id AND replicas.expires_at > $2)";

/// `replica`, `now`: after a sweep, expired leases guard nothing (a replica that comes back
/// renews its own).
pub(crate) const FORGET_EXPIRED: &str = "DELETE FROM replicas WHERE expires_at <= $2 AND id <> $1";

/// The one clock every PostgreSQL replica shares, for leases.
pub(crate) const POSTGRES_NOW: &str = "SELECT now()";
