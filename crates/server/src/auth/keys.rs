//! Static API keys, compared in constant time so response timing does not reveal how much of a
//! guess was right (`subtle`, rather than a hand-rolled loop the optimiser could shortcut).

use std::fmt::Write;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::ApiKey;

/// The configured keys; `Debug` shows only their ids (`SecretString` redacts the keys).
#[derive(Debug)]
pub(super) struct ApiKeys {
    keys: Vec<SecretString>,
    ids: Vec<String>,
}

impl ApiKeys {
    /// A named key's id is `name:` and its name, so that keys given one name (an old one and
    /// its replacement) are one principal; another's is its digest.
    pub(super) fn new(keys: Vec<ApiKey>) -> Self {
        let ids = keys
            .iter()
            .map(|ApiKey { name, key }| match name {
                Some(name) => format!("name:{name}"),
                None => id(key.expose_secret()),
            })
            .collect();
        Self { keys: keys.into_iter().map(|ApiKey { key, .. }| key).collect(), ids }
    }

    /// The id of the matching key. Every key is compared, so the time taken does not depend on
    /// which one matched.
    pub(super) fn find(&self, candidate: &str) -> Option<&str> {
        let found = self.keys.iter().enumerate().fold(None, |found, (i, key)| {
            let equal: bool = key.expose_secret().as_bytes().ct_eq(candidate.as_bytes()).into();
            if equal { Some(i) } else { found }
        });
        found.map(|i| self.ids[i].as_str())
    }
}

/// A stable name for a key that is not the key: the first 64 bits of its SHA-256, in hex. The
/// key's conversations and rate allowance then survive a reordering of `API_KEYS`, and a
/// database or a metric never holds the key itself (keys are long and random, so the prefix
/// cannot be turned back into one).
fn id(key: &str) -> String {
    Sha256::digest(key.as_bytes())[..8].iter().fold(String::with_capacity(16), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unnamed(key: &str) -> ApiKey {
        ApiKey { name: None, key: key.into() }
    }

    #[test]
    fn finds_exact_keys_only() {
        let keys = ApiKeys::new(vec![unnamed("first-key-0123456789"), unnamed("second-key-0123456789")]);
        assert_eq!(keys.find("second-key-0123456789"), Some(id("second-key-0123456789").as_str()));
        assert_ne!(keys.find("first-key-0123456789"), keys.find("second-key-0123456789"));
        assert_eq!(id("first-key-0123456789").len(), 16);
        assert_eq!(keys.find("second-key-012345678"), None);
        assert_eq!(keys.find("second-key-0123456789 "), None);
        assert_eq!(keys.find(""), None);
        assert!(!format!("{keys:?}").contains("first-key"));
    }

    #[test]
    fn keys_of_one_name_are_one_principal_apart_from_unnamed_keys() {
        let named = |name: &str, key: &str| ApiKey { name: Some(name.into()), key: key.into() };
        let keys = ApiKeys::new(vec![
            named("alice", "old-key-of-alice-0123"),
            named("alice", "new-key-of-alice-0123"),
            named("bob", "the-key-of-bob-012345"),
            unnamed("an-unnamed-key-012345"),
        ]);
        assert_eq!(keys.find("old-key-of-alice-0123"), Some("name:alice"));
        assert_eq!(keys.find("new-key-of-alice-0123"), Some("name:alice"));
        assert_eq!(keys.find("the-key-of-bob-012345"), Some("name:bob"));
        assert_eq!(keys.find("an-unnamed-key-012345"), Some(id("an-unnamed-key-012345").as_str()));
        assert_eq!(keys.find("alice"), None);
    }
}
