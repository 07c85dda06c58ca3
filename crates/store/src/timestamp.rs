//! Times as each backend stores them: `TIMESTAMPTZ` in PostgreSQL, integer microseconds since
//! the Unix epoch in SQLite. sqlx writes SQLite times as RFC 3339 text, whose trimmed fractions
//! do not sort (`…:05Z` > `…:05.1Z`), and lists and cursors compare times in SQL.

use sqlx::{
    Decode, Encode, Postgres, Sqlite, Type,
    encode::IsNull,
    error::BoxDynError,
    postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef},
    sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef},
};
use time::OffsetDateTime;

/// A UTC instant to the microsecond, the precision both backends keep, so what is written is
/// exactly what is read back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Timestamp(pub(crate) OffsetDateTime);

impl Timestamp {
    /// This process's clock.
    pub(crate) fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::from_micros(now.unix_timestamp_nanos() / 1000).unwrap_or(Self(now))
    }

    pub(crate) fn micros(self) -> i64 {
        // Within ±292,000 years of 1970 an i64 holds every microsecond.
        (self.0.unix_timestamp_nanos() / 1000) as i64
    }

    pub(crate) fn from_micros(micros: impl Into<i128>) -> Result<Self, time::error::ComponentRange> {
        OffsetDateTime::from_unix_timestamp_nanos(micros.into() * 1000).map(Self)
    }

    /// `self + ttl`, saturating far in the future rather than overflowing.
    pub(crate) fn plus(self, ttl: std::time::Duration) -> Self {
        let ttl = time::Duration::try_from(ttl).unwrap_or(time::Duration::MAX);
        Self(self.0.saturating_add(ttl))
    }
}

impl Type<Sqlite> for Timestamp {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Timestamp {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Timestamp {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Self::from_micros(<i64 as Decode<Sqlite>>::decode(value)?)?)
    }
}

impl Type<Postgres> for Timestamp {
    fn type_info() -> PgTypeInfo {
        <OffsetDateTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <OffsetDateTime as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Timestamp {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <OffsetDateTime as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Timestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <OffsetDateTime as Decode<Postgres>>::decode(value).map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_keeps_whole_microseconds() {
        let now = Timestamp::now();

        assert_eq!(now.0.nanosecond() % 1000, 0);
        assert_eq!(Timestamp::from_micros(now.micros()).unwrap(), now);
    }

    #[test]
    fn plus_saturates_instead_of_overflowing() {
        let now = Timestamp::now();

        assert!(now.plus(std::time::Duration::MAX) > now);
        assert_eq!(now.plus(std::time::Duration::from_millis(1500)).micros() - now.micros(), 1_500_000);
    }
}
