//! The `before` cursor of a conversation list: the last listed conversation's `(updated_at, id)`,
//! written as `<microseconds>.<uuid hex>`. Clients treat it as opaque; anything this store did not
//! write is [`StoreError::BadCursor`].

use uuid::Uuid;

use crate::{StoreError, timestamp::Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) updated_at: Timestamp,
    pub(crate) id: Uuid,
}

impl Cursor {
    pub(crate) fn parse(text: &str) -> Result<Self, StoreError> {
        let (micros, id) = text.split_once('.').ok_or(StoreError::BadCursor)?;
        let micros: i64 = micros.parse().map_err(|_| StoreError::BadCursor)?;
        Ok(Self {
            updated_at: Timestamp::from_micros(micros).map_err(|_| StoreError::BadCursor)?,
            id: Uuid::try_parse(id).map_err(|_| StoreError::BadCursor)?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.updated_at.micros(), self.id.simple())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_cursor_parses_back() {
        let cursor = Cursor { updated_at: Timestamp::now(), id: Uuid::now_v7() };

        assert_eq!(Cursor::parse(&cursor.to_string()).unwrap(), cursor);
    }

    #[test]
    fn anything_else_is_a_bad_cursor() {
        for text in
            ["", "abc", "12", "12.", ".0193", "x.0193a0b1c2d34e5f8a9b0c1d2e3f4a5b", "99999999999999999999.0"]
        {
            assert!(matches!(Cursor::parse(text), Err(StoreError::BadCursor)), "{text:?}");
        }
    }
}
