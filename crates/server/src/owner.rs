//! Whose conversations a request may see. With authentication on, each principal owns its own;
//! with it off on loopback (one person's machine), everything belongs to one local owner; with it
//! off on a public address, storing conversations would show every visitor everyone's history,
//! so the conversation routes refuse unless the operator opted in.

use streambed_store::Owner;

use crate::{Config, auth::Principal, error::AppError};

/// How owners are found, decided once from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OwnerPolicy {
    /// Each authenticated principal owns its conversations.
    Principal,
    /// One local owner: no authentication, on loopback or by `CONVERSATIONS_WITHOUT_AUTH`.
    Local,
    /// No authentication on a public address: conversation routes answer 403.
    Refused,
}

/// The single owner of a server without authentication.
const LOCAL: &str = "local";

impl OwnerPolicy {
    /// The policy and why, for the start-up log.
    pub(crate) fn new(config: &Config) -> (Self, &'static str) {
        if config.auth.is_enabled() {
            (Self::Principal, "authentication is on: each key or token subject has its own")
        } else if config.host.is_loopback() {
            (Self::Local, "no authentication on a loopback address: one local owner")
        } else if config.store.without_auth {
            (Self::Local, "CONVERSATIONS_WITHOUT_AUTH=true: every visitor shares one history")
        } else {
            (
                Self::Refused,
                "no authentication on a public address: set API_KEYS or AUTH_JWT_ISSUER (or CONVERSATIONS_WITHOUT_AUTH=true)",
            )
        }
    }

    pub(crate) fn owner(self, principal: Option<&Principal>) -> Result<Owner, AppError> {
        match (self, principal) {
            (Self::Principal, Some(principal)) => Ok(Owner(principal.id())),
            // The auth layer runs before every conversation route, so a principal is always
            // there when authentication is on; refuse rather than share if it ever is not.
            (Self::Principal, None) | (Self::Refused, _) => Err(AppError::ConversationsRefused),
            (Self::Local, _) => Ok(Owner(LOCAL.to_owned())),
        }
    }
}
