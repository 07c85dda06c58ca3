//! The abuse-limit variables: rates, caps and the request deadline. The per-client rate is on by
//! default only when authentication is: a server nobody has to sign in to is a local one, and its
//! clients (scripts, the seed's) must not meet a 429 they never asked for.

use std::time::Duration;

use streambed_core::Message;

use super::{ConfigError, Vars};

/// What one client, and all clients together, may ask of the server.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// `RATE_LIMIT_PER_MINUTE`: chats per client (API key, token subject, else IP); 0 is off
    /// (60 with authentication on, else 0).
    pub rate_per_minute: u32,
    /// Why `rate_per_minute` is what it is, for the start-up log.
    pub rate_reason: &'static str,
    /// `RATE_LIMIT_BURST`: chats a client may send at once before the rate applies (20).
    pub rate_burst: u32,
    /// `MAX_CONCURRENT_STREAMS`: answers streaming at once; more get 503 (10,000).
    pub max_streams: usize,
    /// `MAX_PROMPT_CHARS`: characters in all messages of one request together (100,000).
    pub max_prompt_chars: usize,
    /// `MAX_TURNS`: messages in one request's history (100).
    pub max_turns: usize,
    /// `MAX_TOKENS_LIMIT`: the most tokens a request may ask one answer for (4,096).
    pub max_tokens: u32,
    /// `REQUEST_TIMEOUT_SECONDS`: longest a whole answer may take (600).
    pub request_timeout: Duration,
    /// `FIRST_BYTE_SECONDS`: longest a streamed answer's response waits for the model to start
    /// (Bedrock's response head, which a long prompt holds back) before it starts anyway, its
    /// headers and keep-alives out, a refusal after it an error event (15): under a proxy's
    /// wait for a first byte (CloudFront's 30 s), over the time a refusal takes to come back.
    pub first_byte: Duration,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the server (ALB = 1, CloudFront + ALB = 2)
    /// whose `X-Forwarded-For` entries identify the client; 0 uses the peer address.
    pub trusted_proxy_hops: usize,
}

impl Limits {
    /// A request's answer length (`param` as its API names it), held to `MAX_TOKENS_LIMIT`: more
    /// is capped rather than refused, because clients ask for a model's whole output by default
    /// (LiteLLM, the Vercel AI SDK: 64,000 for Claude Sonnet 4.5), and an answer that reaches the
    /// cap ends with the stop reason `max_tokens`, as one that reaches the model's own does. Only
    /// 0 is refused.
    pub fn cap_max_tokens(&self, param: &str, n: u32) -> Result<u32, String> {
        if n == 0 {
            return Err(format!("`{param}` must be at least 1."));
        }
        Ok(n.min(self.max_tokens))
    }

    /// Holds a conversation (and the client's own system prompt) to `MAX_TURNS` and
    /// `MAX_PROMPT_CHARS`, as every API applies them; the error names the variable.
    pub fn check_size(&self, system: Option<&str>, messages: &[Message]) -> Result<(), TooLarge> {
        if messages.len() > self.max_turns {
            return Err(TooLarge::Turns { count: messages.len(), most: self.max_turns });
        }
        let chars =
            system.map_or(0, |s| s.chars().count()) + messages.iter().map(Message::chars).sum::<usize>();
        if chars > self.max_prompt_chars {
            return Err(TooLarge::Chars { count: chars, most: self.max_prompt_chars });
        }
        Ok(())
    }
}

/// A conversation past `MAX_TURNS` or `MAX_PROMPT_CHARS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    #[error(
        "The conversation has {count} messages; this server accepts at most {most} (MAX_TURNS). \
         Start a new chat."
    )]
    Turns { count: usize, most: usize },
    #[error(
        "The conversation is {count} characters; this server accepts at most {most} (MAX_PROMPT_CHARS). \
         Shorten it or start a new chat."
    )]
    Chars { count: usize, most: usize },
}

pub(super) fn read(vars: &Vars, auth_enabled: bool) -> Result<Limits, ConfigError> {
    let explicit = vars.optional("RATE_LIMIT_PER_MINUTE", |_: &u32| true, "an integer (0 turns it off)")?;
    let (rate_per_minute, rate_reason) = match explicit {
        Some(rate) => (rate, "RATE_LIMIT_PER_MINUTE is set"),
        None if auth_enabled => (60, "authentication is on and RATE_LIMIT_PER_MINUTE is not set"),
        None => (0, "authentication is off and RATE_LIMIT_PER_MINUTE is not set"),
    };
    Ok(Limits {
        rate_per_minute,
        rate_reason,
        rate_burst: vars.at_least_one("RATE_LIMIT_BURST", 20)?,
        max_streams: vars.at_least_one("MAX_CONCURRENT_STREAMS", 10_000)?,
        max_prompt_chars: vars.at_least_one("MAX_PROMPT_CHARS", 100_000)?,
        max_turns: vars.at_least_one("MAX_TURNS", 100)?,
        max_tokens: vars.at_least_one("MAX_TOKENS_LIMIT", 4096)?,
        request_timeout: vars.seconds("REQUEST_TIMEOUT_SECONDS", 600.0)?,
        first_byte: vars.seconds("FIRST_BYTE_SECONDS", 15.0)?,
        trusted_proxy_hops: vars.parse("TRUSTED_PROXY_HOPS", 0, "a whole number")?,
    })
}

impl Limits {
    /// The per-client rate, for the start-up log.
    pub fn rate_summary(&self) -> String {
        match self.rate_per_minute {
            0 => "off".to_owned(),
            rate => format!("{rate} chats per minute, burst {}", self.rate_burst),
        }
    }
}

#[cfg(test)]
impl Limits {
    /// The limits with every setting at its default.
    pub(crate) fn defaults() -> Self {
        crate::Config::from_lookup(|_| None).expect("the defaults are a configuration").limits
    }
}

#[cfg(test)]
mod tests {
    use streambed_core::Message;

    use super::*;

    #[test]
    fn the_size_limits_count_messages_and_characters_and_name_their_variable() {
        let limits = Limits { max_turns: 2, max_prompt_chars: 10, ..Limits::defaults() };
        let three = [Message::user("a"), Message::assistant("b"), Message::user("c")];
        assert!(limits.check_size(None, &three).unwrap_err().to_string().contains("MAX_TURNS"));
        assert!(
            limits
                .check_size(None, &[Message::user("ééééééééééé")])
                .unwrap_err()
                .to_string()
                .contains("MAX_PROMPT_CHARS")
        );
        assert!(
            limits.check_size(Some("123456"), &[Message::user("12345")]).is_err(),
            "a client's system prompt counts"
        );
        assert!(limits.check_size(None, &[Message::user("éééééééééé")]).is_ok(), "characters, not bytes");
    }
}
