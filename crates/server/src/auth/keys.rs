//! Static API keys, compared in constant time so response timing does not reveal how much of a
//! guess was right (`subtle`, rather than a hand-rolled loop the optimiser could shortcut).

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

/// The configured keys; `Debug` shows only how many there are (`SecretString` redacts).
#[derive(Debug)]
pub struct ApiKeys(Vec<SecretString>);

impl ApiKeys {
    pub fn new(keys: Vec<SecretString>) -> Self {
        Self(keys)
    }

    /// The position of the matching key. Every key is compared, so the time taken does not
    /// depend on which one matched.
    pub fn find(&self, candidate: &str) -> Option<usize> {
        self.0.iter().enumerate().fold(None, |found, (i, key)| {
            let equal: bool = key.expose_secret().as_bytes().ct_eq(candidate.as_bytes()).into();
            if equal { Some(i) } else { found }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_exact_keys_only() {
        let keys = ApiKeys::new(vec!["first-key-0123456789".into(), "second-key-0123456789".into()]);
        assert_eq!(keys.find("second-key-0123456789"), Some(1));
        assert_eq!(keys.find("second-key-012345678"), None);
        assert_eq!(keys.find("second-key-0123456789 "), None);
        assert_eq!(keys.find(""), None);
        assert!(!format!("{keys:?}").contains("first-key"));
    }
}
