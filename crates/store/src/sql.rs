//! Every statement the store runs, in the dialect SQLite and PostgreSQL share: `$n` parameters
//! (SQLite reads them by number too), `RETURNING`, row-value comparison, `ON CONFLICT`,
//! `UPDATE … FROM (VALUES …)`. Times and ids are bound from Rust, so only [`POSTGRES_NOW`]
//! belongs to one backend, and only the placeholders of a batch's statements differ
//! ([`Placeholders`]).

use std::sync::LazyLock;

use self::Placeholders::{InOrder, Numbered};

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

/// Which database a statement is for: where the dialects differ, in how a batched statement
/// writes its parameters ([`Placeholders`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Sqlite,
    Postgres,
}

/// How a batched statement writes its parameters. PostgreSQL numbers them (`$1`). SQLite reads
/// `$n` too, but sqlx binds a numbered parameter by its name, which SQLite finds by a linear scan
/// of the statement's list (`sqlite3VListNumToName`), so binding costs the square of the
/// parameters: 2,048 of them took about 10 µs a row (`perf`, BENCHMARKS, eighth sitting). A
/// plain `?` names nothing and binds in its place, so a statement whose parameters each appear
/// once, in the order they are bound, is written with `?` for SQLite, and binds in linear time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placeholders {
    /// `$1`, `$2`, …: a parameter may appear more than once.
    Numbered,
    /// `?` on SQLite, `$n` on PostgreSQL: each parameter once, in order.
    InOrder(Dialect),
}

/// The most parameters a batched statement that names a parameter more than once binds (an
/// append or a batch of finishes): on SQLite those are `$n`, whose binding costs the square of
/// their count, and around 256 a statement costs about what the round trip it saves does.
const MOST_NUMBERED: usize = 256;

/// The most rows one [`insert_messages`] statement writes: a whole batch of turns, each a
/// question and its answer. Its parameters appear once each, so SQLite binds them as `?`.
pub(crate) const INSERT_ROWS: usize = 2 * BATCH_TURNS;

/// [`INSERT_MESSAGE`] for `rows` rows, a power of two up to [`INSERT_ROWS`], with its eight
/// parameters bound for each row in turn. An insert cannot skip a row as an update can, so the
/// rows come from a `VALUES` list whose padding rows are NULL (a NULL id), and are left out.
pub(crate) fn insert_messages(dialect: Dialect, rows: usize) -> &'static str {
    static BY_POWER: LazyLock<ByDialect> = LazyLock::new(|| ByDialect::new(INSERT_ROWS, insert_statement));
    debug_assert!(rows.is_power_of_two() && rows <= INSERT_ROWS, "no statement inserts {rows} rows");
    BY_POWER.for_rows(dialect, rows)
}

fn insert_statement(placeholders: Placeholders, rows: usize) -> String {
    let rows = Rows { count: rows, width: 8, first: 1, placeholders };
    format!(
        "INSERT INTO messages (id, conversation_id, role, content, status, model, replica_id, created_at) \
         SELECT * FROM (VALUES {}) AS batch WHERE column1 IS NOT NULL",
        rows.values()
    )
}

/// The columns a message is read with, as a literal for `concat!`. For a `streaming` answer,
/// also the replica writing it (`writer`) and until when its lease holds (`lease_until`, NULL
/// with none on record): a turn waits while another replica's answer is live
/// ([`crate::StoreError::AnswerRunning`]).
macro_rules! message_columns {
    () => {
        "id, role, content, status, model, reasoning, parts, usage, stop_reason, error_code, latency_ms, \
         created_at, \
         CASE WHEN status = 'streaming' THEN replica_id END AS writer, \
         CASE WHEN status = 'streaming' THEN \
             (SELECT expires_at FROM replicas WHERE replicas.id = messages.replica_id) END AS lease_until"
    };
}

/// A conversation's messages in order.
pub(crate) const MESSAGES: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE conversation_id = $1 ORDER BY created_at, id"
);

/// One message of an owner's conversation: `$1` the message, `$2` the conversation, `$3` the
/// owner. One row by the messages' key, for those who poll an answer while it is written.
pub(crate) const MESSAGE: &str = concat!(
    "SELECT ",
    message_columns!(),
    " FROM messages WHERE id = $1 AND conversation_id = $2 \
      AND EXISTS (SELECT 1 FROM conversations WHERE conversations.id = $2 AND owner = $3)"
);

/// [`TOUCH`] for up to `rows` conversations at once (rounded up to a power of two, at most
/// [`BATCH_TURNS`]): the time, then `id, owner, model, title` for each conversation. Returns the
/// ids it found, so a turn whose conversation is gone (or another owner's) is known. Pads with
/// a nil id, which names no conversation. The rows join by `id`, which both databases look up
/// by its key for each row of the list (SQLite: `SEARCH conversations … (id=?)`).
pub(crate) fn touch(dialect: Dialect, rows: usize) -> &'static str {
    static BY_POWER: LazyLock<ByDialect> = LazyLock::new(|| ByDialect::new(BATCH_TURNS, touch_statement));
    BY_POWER.for_rows(dialect, rows)
}

fn touch_statement(placeholders: Placeholders, rows: usize) -> String {
    // The time comes first; each row is `id, owner, model, title`.
    let rows = Rows { count: rows, width: 4, first: 2, placeholders };
    format!(
        "UPDATE conversations \
         SET updated_at = {}, model = COALESCE(batch.column3, conversations.model), \
             title = CASE WHEN conversations.title = '' THEN batch.column4 ELSE conversations.title END \
         FROM (VALUES {}) AS batch \
         WHERE conversations.id = batch.column1 AND conversations.owner = batch.column2 \
         RETURNING conversations.id",
        placeholders.param(1),
        rows.values()
    )
}

/// [`MESSAGES`] of up to `rows` conversations at once (rounded up to a power of two, at most
/// [`BATCH_TURNS`], padded with a nil id), each row with its `conversation_id`.
pub(crate) fn messages_of(dialect: Dialect, rows: usize) -> &'static str {
    static BY_POWER: LazyLock<ByDialect> = LazyLock::new(|| ByDialect::new(BATCH_TURNS, messages_statement));
    BY_POWER.for_rows(dialect, rows)
}

fn messages_statement(placeholders: Placeholders, rows: usize) -> String {
    let ids = Rows { count: rows, width: 1, first: 1, placeholders }.ids();
    format!(
        concat!(
            "SELECT conversation_id, ",
            message_columns!(),
            " FROM messages WHERE conversation_id IN ({ids}) ORDER BY conversation_id, created_at, id"
        ),
        ids = ids
    )
}

/// The most rows of `width` parameters a batched statement writes: the largest power of two
/// whose parameters fit in [`MOST_NUMBERED`].
const fn most_rows(width: usize) -> usize {
    1 << (MOST_NUMBERED / width).ilog2()
}

/// [`append`]'s parameters for each answer: `id, text, reasoning`.
const APPEND_WIDTH: usize = 3;

/// The most answers one [`append`] statement writes.
pub(crate) const APPEND_ROWS: usize = most_rows(APPEND_WIDTH);

/// Appends text and reasoning to up to `rows` answers in one statement, with `id, text,
/// reasoning` bound for each (`$1, $2, $3`, then `$4, $5, $6`, …), and returns the ids written.
/// Only `streaming` rows: an answer already swept to `interrupted` stays so. One statement per
/// flush for every answer in progress, rather than one per answer: on SQLite each statement is
/// a round trip to the connection's thread, which is what a busy server's writes cost. The
/// statement comes in powers of two up to [`APPEND_ROWS`] rows, so a few prepared statements
/// serve every batch; a batch pads out with rows that name no message.
pub(crate) fn append(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> =
        LazyLock::new(|| by_power(APPEND_ROWS, Numbered, append_statement));
    for_rows(&BY_POWER, rows)
}

fn append_statement(placeholders: Placeholders, rows: usize) -> String {
    let rows = Rows { count: rows, width: APPEND_WIDTH, first: 1, placeholders };
    format!(
        "UPDATE messages SET content = content || {}, reasoning = reasoning || {} \
         WHERE status = 'streaming' AND id IN ({}) RETURNING id",
        rows.case(1, Some("''")),
        rows.case(2, Some("''")),
        rows.ids()
    )
}

/// A statement made once for each power of two up to `most` rows, smallest first.
fn by_power(most: usize, placeholders: Placeholders, statement: Statement) -> Vec<String> {
    (0..=most.ilog2()).map(|power| statement(placeholders, 1 << power)).collect()
}

/// A batched statement for so many rows, written with these placeholders.
type Statement = fn(Placeholders, usize) -> String;

/// The statement of [`by_power`]'s for `rows` rows, rounded up to a power of two. Callers
/// batch at most the largest's rows; asking for more is a bug, not a statement with too few.
fn for_rows(by_power: &'static [String], rows: usize) -> &'static str {
    let power = rows.max(1).next_power_of_two().ilog2() as usize;
    by_power.get(power).unwrap_or_else(|| panic!("no statement writes {rows} rows"))
}

/// A statement whose parameters appear once each, in order ([`Placeholders::InOrder`]), made
/// by [`by_power`] for each dialect.
struct ByDialect {
    sqlite: Vec<String>,
    postgres: Vec<String>,
}

impl ByDialect {
    fn new(most: usize, statement: Statement) -> Self {
        Self {
            sqlite: by_power(most, InOrder(Dialect::Sqlite), statement),
            postgres: by_power(most, InOrder(Dialect::Postgres), statement),
        }
    }

    fn for_rows(&'static self, dialect: Dialect, rows: usize) -> &'static str {
        match dialect {
            Dialect::Sqlite => for_rows(&self.sqlite, rows),
            Dialect::Postgres => for_rows(&self.postgres, rows),
        }
    }
}

/// `id, text, reasoning, status, usage, stop_reason, error_code, parts, latency_ms`: ends one answer,
/// appending its last text and reasoning. Only a `streaming` row: an answer already swept to
/// `interrupted` stays so. For a finish written alone; a batch uses [`finish`].
pub(crate) const FINISH: &str = "\
    UPDATE messages \
    SET content = content || $2, reasoning = reasoning || $3, \
        status = $4, usage = $5, stop_reason = $6, error_code = $7, parts = $8, latency_ms = $9 \
    WHERE id = $1 AND status = 'streaming'";

/// [`FINISH`]'s parameters: a batch binds this many for each answer.
const FINISH_WIDTH: usize = 9;

/// The most answers one batch of finishes writes (see `finish`).
pub(crate) const BATCH_FINISHES: usize = most_rows(FINISH_WIDTH);

/// [`FINISH`] for up to `rows` answers at once (rounded up to a power of two, at most
/// [`BATCH_FINISHES`]), returning the ids written, with [`FINISH`]'s nine parameters bound for
/// each (`$1`…`$9` the first answer, `$10`…`$18` the second, …), padded with a nil id, which
/// names no message. Each column takes the value of its row's `CASE id` arm, so the ids must be
/// distinct (a row is set once, by the first arm that names it). The `ELSE` arms are never
/// taken (the `WHERE` picks only listed ids) but keep each `CASE` typed as its column:
/// PostgreSQL reads `usage` and `parts` as the JSONB they are bound as, and a NULL bound stores
/// NULL.
pub(crate) fn finish(rows: usize) -> &'static str {
    static BY_POWER: LazyLock<Vec<String>> =
        LazyLock::new(|| by_power(BATCH_FINISHES, Numbered, finish_statement));
    for_rows(&BY_POWER, rows)
}

fn finish_statement(placeholders: Placeholders, rows: usize) -> String {
    let rows = Rows { count: rows, width: FINISH_WIDTH, first: 1, placeholders };
    format!(
        "UPDATE messages \
         SET content = content || {}, reasoning = reasoning || {}, \
             status = {}, usage = {}, stop_reason = {}, error_code = {}, parts = {}, latency_ms = {} \
         WHERE status = 'streaming' AND id IN ({}) RETURNING id",
        rows.case(1, Some("''")),
        rows.case(2, Some("''")),
        rows.case(3, Some("status")),
        rows.case(4, Some("usage")),
        rows.case(5, Some("stop_reason")),
        rows.case(6, Some("error_code")),
        rows.case(7, Some("parts")),
        rows.case(8, Some("latency_ms")),
        rows.ids()
    )
}

impl Placeholders {
    /// The `n`th parameter (from 1).
    fn param(self, n: usize) -> String {
        match self {
            InOrder(Dialect::Sqlite) => "?".to_owned(),
            Numbered | InOrder(Dialect::Postgres) => format!("${n}"),
        }
    }
}

/// The parameters of a batched statement: `count` rows of `width` parameters, each row's id
/// first, numbered from `$first` (where they are numbered).
struct Rows {
    count: usize,
    width: usize,
    first: usize,
    placeholders: Placeholders,
}

impl Rows {
    fn param(&self, row: usize, column: usize) -> String {
        self.placeholders.param(self.width * row + column + self.first)
    }

    /// `CASE id WHEN <row's id> THEN <row's column> … [ELSE otherwise] END`: each listed row
    /// takes its own value. Names each id twice, so only with [`Placeholders::Numbered`].
    fn case(&self, column: usize, otherwise: Option<&str>) -> String {
        debug_assert_eq!(self.placeholders, Numbered);
        let arms: String = (0..self.count)
            .map(|row| format!(" WHEN {} THEN {}", self.param(row, 0), self.param(row, column)))
            .collect();
        let otherwise = otherwise.map(|value| format!(" ELSE {value}")).unwrap_or_default();
        format!("CASE id{arms}{otherwise} END")
    }

    /// Every row's parameters, for `VALUES (…), (…)`.
    fn values(&self) -> String {
        let row = |row| (0..self.width).map(|column| self.param(row, column)).collect::<Vec<_>>().join(", ");
        (0..self.count).map(|r| format!("({})", row(r))).collect::<Vec<_>>().join(", ")
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

    #[test]
    fn a_batch_is_the_largest_power_of_two_of_rows_whose_parameters_fit() {
        assert_eq!((APPEND_ROWS, BATCH_FINISHES), (64, 16));
        assert_eq!(most_rows(1), MOST_NUMBERED);
        assert!(finish(BATCH_FINISHES).contains(&format!("${}", BATCH_FINISHES * FINISH_WIDTH)));
    }

    #[test]
    fn batched_statements_round_up_to_a_power_of_two() {
        // Three conversations take the statement for four: the time and four parameters each.
        let three = touch(Dialect::Postgres, 3);
        assert!(three.contains("SET updated_at = $1,"), "{three}");
        assert!(three.contains(
            "VALUES ($2, $3, $4, $5), ($6, $7, $8, $9), ($10, $11, $12, $13), ($14, $15, $16, $17))"
        ));
        let messages = messages_of(Dialect::Postgres, 5);
        assert!(messages.contains("IN ($1, $2, $3, $4, $5, $6, $7, $8)"), "{messages}");
        assert!(insert_messages(Dialect::Postgres, 4).contains("($25, $26, $27, $28, $29, $30, $31, $32))"));
        let finish = finish(2);
        assert!(
            finish.contains("status = CASE id WHEN $1 THEN $4 WHEN $10 THEN $13 ELSE status END"),
            "{finish}"
        );
        assert!(finish.ends_with("WHERE status = 'streaming' AND id IN ($1, $10) RETURNING id"), "{finish}");
    }

    #[test]
    fn sqlite_binds_a_batch_in_order_where_each_parameter_appears_once() {
        let touch = touch(Dialect::Sqlite, 2);
        assert!(
            touch.contains("SET updated_at = ?,") && touch.contains("VALUES (?, ?, ?, ?), (?, ?, ?, ?))")
        );
        assert!(!touch.contains('$'), "{touch}");
        assert!(messages_of(Dialect::Sqlite, 3).contains("IN (?, ?, ?, ?)"));
        let insert = insert_messages(Dialect::Sqlite, INSERT_ROWS);
        assert_eq!(insert.matches('?').count(), 8 * INSERT_ROWS);
        assert!(!insert.contains('$'));
        // What names a parameter twice keeps its numbers.
        assert!(append(1).contains("WHEN $1 THEN $2"));
    }
}
