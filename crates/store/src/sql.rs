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
/// one is given (`$4`). For a turn written alone; a batch of turns uses [`touch`].
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

/// The most turns one batch writes together (see `group_commit`).
pub(crate) const BATCH_TURNS: usize = 128;

/// The most parameters one insert, append or finish statement binds. sqlx binds SQLite's `$n`
/// parameters by name, and SQLite finds each name by a linear scan of the statement's list
/// (`sqlite3VListNumToName`), so binding a statement costs the square of its parameters: 2,048
/// of them took about 10 µs a row, more than the round trip they saved (`perf`, BENCHMARKS,
/// eighth sitting). Around 256, the two cost about the same. [`touch`] stays one statement for
/// a whole batch (513 parameters at most), as its `RETURNING` tells which conversations exist.
const MOST_PARAMETERS: usize = 256;

/// The most rows one [`insert_messages`] statement writes (8 parameters a row); a batch's
/// questions and answers take several.
pub(crate) const INSERT_ROWS: usize = MOST_PARAMETERS / 8;

/// [`INSERT_MESSAGE`] for `rows` rows, a power of two up to [`INSERT_ROWS`]: `$1`…`$8` the first
/// row, `$9`…`$16` the second, and so on. An insert cannot skip a padding row as an update can,
/// so [`insert_rows`] splits a count into powers of two instead.
pub(crate) fn insert_messages(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| by_power(INSERT_ROWS, insert_statement));
    debug_assert!(rows.is_power_of_two() && rows <= INSERT_ROWS, "no statement inserts {rows} rows");
    for_rows(&BY_POWER, rows)
}

/// How many of `remaining` rows the next [`insert_messages`] takes: the largest power of two
/// that fits. So `n` rows take one statement per bit of `n` (13 = 8 + 4 + 1), from a handful
/// of prepared statements.
pub(crate) fn insert_rows(remaining: usize) -> usize {
    1 << remaining.clamp(1, INSERT_ROWS).ilog2()
}

fn insert_statement(rows: usize) -> String {
    let rows = Rows { count: rows, width: 8, first: 1 };
    let values = (0..rows.count).map(|row| format!("({})", rows.row(row))).collect::<Vec<_>>().join(", ");
    format!(
        "INSERT INTO messages (id, conversation_id, role, content, status, model, replica_id, created_at) \
         VALUES {values}"
    )
}

pub(crate) const MESSAGES: &str = "\
    SELECT id, role, content, status, model, reasoning, parts, usage, stop_reason, error_code, created_at \
    FROM messages WHERE conversation_id = $1 \
    ORDER BY created_at, id";

/// [`TOUCH`] for up to `rows` conversations at once (rounded up to a power of two, at most
/// [`BATCH_TURNS`]): `$1` the time, then `id, owner, model, title` for each conversation. Returns
/// the ids it found, so a turn whose conversation is gone (or another owner's) is known. Pads
/// with a nil id, which names no conversation. `owner = CASE id …` rather than `(id, owner) IN
/// (VALUES …)`: SQLite scans the whole table for a row-value `IN`, but looks up `id IN (…)` by
/// its key.
pub(crate) fn touch(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| by_power(BATCH_TURNS, touch_statement));
    for_rows(&BY_POWER, rows)
}

fn touch_statement(rows: usize) -> String {
    // `$1` is the time; each row is `id, owner, model, title`.
    let rows = Rows { count: rows, width: 4, first: 2 };
    format!(
        "UPDATE conversations \
         SET updated_at = $1, model = COALESCE({}, model), \
             title = CASE WHEN title = '' THEN {} ELSE title END \
         WHERE id IN ({}) AND owner = {} \
         RETURNING id",
        rows.case(2, None),
        rows.case(3, Some("title")),
        rows.ids(),
        rows.case(1, None)
    )
}

/// [`MESSAGES`] of up to `rows` conversations at once (rounded up to a power of two, at most
/// [`BATCH_TURNS`], padded with a nil id), each row with its `conversation_id`.
pub(crate) fn messages_of(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| by_power(BATCH_TURNS, messages_statement));
    for_rows(&BY_POWER, rows)
}

fn messages_statement(rows: usize) -> String {
    let ids = Rows { count: rows, width: 1, first: 1 }.ids();
    format!(
        "SELECT conversation_id, id, role, content, status, model, reasoning, parts, usage, stop_reason, \
                error_code, created_at \
         FROM messages WHERE conversation_id IN ({ids}) \
         ORDER BY conversation_id, created_at, id"
    )
}

/// The most answers one [`append`] statement writes: 3 parameters a row, within
/// [`MOST_PARAMETERS`].
pub(crate) const APPEND_ROWS: usize = 64;
const _: () = assert!(APPEND_ROWS * 3 <= MOST_PARAMETERS && APPEND_ROWS.is_power_of_two());

/// Appends text and reasoning to up to `rows` answers in one statement, with `id, text,
/// reasoning` bound for each (`$1, $2, $3`, then `$4, $5, $6`, …). Only `streaming` rows: an
/// answer already swept to `interrupted` stays so. One statement per flush for every answer
/// in progress, rather than one per answer: on SQLite each statement is a round trip to the
/// connection's thread, which is what a busy server's writes cost. The statement comes in
/// powers of two up to [`APPEND_ROWS`] rows, so a few prepared statements serve every batch;
/// a batch pads out with rows that name no message.
pub(crate) fn append(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| by_power(APPEND_ROWS, append_statement));
    for_rows(&BY_POWER, rows)
}

fn append_statement(rows: usize) -> String {
    let rows = Rows { count: rows, width: 3, first: 1 };
    format!(
        "UPDATE messages SET content = content || {}, reasoning = reasoning || {} \
         WHERE status = 'streaming' AND id IN ({})",
        rows.case(1, Some("''")),
        rows.case(2, Some("''")),
        rows.ids()
    )
}

/// A statement made once for each power of two up to `most` rows, smallest first.
fn by_power(most: usize, statement: fn(usize) -> String) -> Vec<String> {
    (0..=most.ilog2()).map(|power| statement(1 << power)).collect()
}

/// The statement of [`by_power`]'s for `rows` rows, rounded up to a power of two, at most the
/// largest.
fn for_rows(by_power: &'static [String], rows: usize) -> &'static str {
    let power = rows.max(1).next_power_of_two().ilog2() as usize;
    &by_power[power.min(by_power.len() - 1)]
}

/// `id, text, reasoning, status, usage, stop_reason, error_code, parts`: ends one answer,
/// appending its last text and reasoning. Only a `streaming` row: an answer already swept to
/// `interrupted` stays so. For a finish written alone; a batch uses [`finish`].
pub(crate) const FINISH: &str = "\
    UPDATE messages \
    SET content = content || $2, reasoning = reasoning || $3, \
        status = $4, usage = $5, stop_reason = $6, error_code = $7, parts = $8 \
    WHERE id = $1 AND status = 'streaming'";

/// The most answers one batch of finishes writes (see `finish`): 8 parameters a row.
pub(crate) const BATCH_FINISHES: usize = MOST_PARAMETERS / 8;

/// [`FINISH`] for up to `rows` answers at once (rounded up to a power of two, at most
/// [`BATCH_FINISHES`]), with [`FINISH`]'s eight parameters bound for each (`$1`…`$8` the first
/// answer, `$9`…`$16` the second, …), padded with a nil id, which names no message. Each column
/// takes the value of its row's `CASE id` arm, so the ids must be distinct (a row is set once,
/// by the first arm that names it). The `ELSE` arms are never taken (the `WHERE` picks only
/// listed ids) but keep each `CASE` typed as its column: PostgreSQL reads `usage` and `parts`
/// as the JSONB they are bound as, and a NULL bound stores NULL.
pub(crate) fn finish(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> = LazyLock::new(|| by_power(BATCH_FINISHES, finish_statement));
    for_rows(&BY_POWER, rows)
}

fn finish_statement(rows: usize) -> String {
    let rows = Rows { count: rows, width: 8, first: 1 };
    format!(
        "UPDATE messages \
         SET content = content || {}, reasoning = reasoning || {}, \
             status = {}, usage = {}, stop_reason = {}, error_code = {}, parts = {} \
         WHERE status = 'streaming' AND id IN ({})",
        rows.case(1, Some("''")),
        rows.case(2, Some("''")),
        rows.case(3, Some("status")),
        rows.case(4, Some("usage")),
        rows.case(5, Some("stop_reason")),
        rows.case(6, Some("error_code")),
        rows.case(7, Some("parts")),
        rows.ids()
    )
}

/// The parameters of a batched statement: `count` rows of `width` parameters, each row's id
/// first, numbered from `$first`.
struct Rows {
    count: usize,
    width: usize,
    first: usize,
}

impl Rows {
    fn param(&self, row: usize, column: usize) -> String {
        format!("${}", self.width * row + column + self.first)
    }

    /// `CASE id WHEN <row's id> THEN <row's column> … [ELSE otherwise] END`: each listed row
    /// takes its own value.
    fn case(&self, column: usize, otherwise: Option<&str>) -> String {
        let arms: String = (0..self.count)
            .map(|row| format!(" WHEN {} THEN {}", self.param(row, 0), self.param(row, column)))
            .collect();
        let otherwise = otherwise.map(|value| format!(" ELSE {value}")).unwrap_or_default();
        format!("CASE id{arms}{otherwise} END")
    }

    /// All of a row's parameters, for `VALUES (…)`.
    fn row(&self, row: usize) -> String {
        (0..self.width).map(|column| self.param(row, column)).collect::<Vec<_>>().join(", ")
    }

    /// The rows' ids, for `id IN (…)`.
    fn ids(&self) -> String {
        (0..self.count).map(|row| self.param(row, 0)).collect::<Vec<_>>().join(", ")
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    /// The rows of each insert a batch of `n` rows makes.
    fn inserts(mut n: usize) -> Vec<usize> {
        let mut rows = Vec::new();
        while n > 0 {
            rows.push(insert_rows(n));
            n -= rows.last().unwrap();
        }
        rows
    }

    #[test]
    fn rows_are_inserted_by_the_powers_of_two_in_their_count() {
        assert_eq!(inserts(1), [1]);
        assert_eq!(inserts(13), [8, 4, 1]);
        assert_eq!(inserts(INSERT_ROWS), [INSERT_ROWS]);
        assert_eq!(inserts(INSERT_ROWS + 7), [INSERT_ROWS, 4, 2, 1]);
        assert!(insert_messages(4).ends_with("($25, $26, $27, $28, $29, $30, $31, $32)"));
    }

    #[test]
    fn batched_statements_round_up_to_a_power_of_two() {
        // Three conversations take the statement for four: `$1` and four parameters each.
        let three = touch(3);
        assert!(three.contains("$17") && !three.contains("$18"), "{three}");
        assert!(three.contains("WHERE id IN ($2, $6, $10, $14) AND owner = CASE id WHEN $2 THEN $3"));
        let messages = messages_of(5);
        assert!(messages.contains("IN ($1, $2, $3, $4, $5, $6, $7, $8)"), "{messages}");
        assert_eq!(touch(1000), touch(BATCH_TURNS));
        let finish = finish(2);
        assert!(
            finish.contains("status = CASE id WHEN $1 THEN $4 WHEN $9 THEN $12 ELSE status END"),
            "{finish}"
        );
        assert!(finish.ends_with("WHERE status = 'streaming' AND id IN ($1, $9)"), "{finish}");
    }
}
