//! Which Claude model a request names, and what that model accepts: the facts the validation
//! rules (`rules.rs`) are written from. They follow Anthropic's model documentation (extended and
//! adaptive thinking, the Claude 4.1/4.5/4.6/4.7 migration notes) and Bedrock's model cards.

/// The Claude model families Bedrock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Haiku3,
    Haiku35,
    Sonnet35,
    Sonnet37,
    Sonnet4,
    Opus4,
    Opus41,
    Sonnet45,
    Haiku45,
    Opus45,
    Sonnet46,
    Opus46,
    Opus47,
}

/// How a family can be asked to think.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThinkingStyle {
    /// It cannot (Claude 3 Haiku, 3.5 Haiku, 3.5 Sonnet).
    None,
    /// `thinking: {type: enabled, budget_tokens}` only.
    Budget,
    /// Both a budget and `thinking: {type: adaptive}` (the 4.6 models).
    BudgetOrAdaptive,
    /// `adaptive` only: budgets were removed (Opus 4.7).
    Adaptive,
}

/// Bedrock model ids by family; the more specific name comes first, as `claude-opus-4` is a
/// prefix of `claude-opus-4-1`.
const NAMES: [(&str, Family); 13] = [
    ("claude-3-haiku", Family::Haiku3),
    ("claude-3-5-haiku", Family::Haiku35),
    ("claude-3-5-sonnet", Family::Sonnet35),
    ("claude-3-7-sonnet", Family::Sonnet37),
    ("claude-sonnet-4-6", Family::Sonnet46),
    ("claude-sonnet-4-5", Family::Sonnet45),
    ("claude-sonnet-4", Family::Sonnet4),
    ("claude-opus-4-7", Family::Opus47),
    ("claude-opus-4-6", Family::Opus46),
    ("claude-opus-4-5", Family::Opus45),
    ("claude-opus-4-1", Family::Opus41),
    ("claude-opus-4", Family::Opus4),
    ("claude-haiku-4-5", Family::Haiku45),
];

/// Cross-region inference profile prefixes, as in `us.anthropic.claude-…`.
const PROFILE_PREFIXES: [&str; 8] = ["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au.", "ca."];

/// A Claude model named by a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    pub family: Family,
    /// Anthropic's name for it, as its errors quote it (`claude-3-5-haiku-20241022`).
    pub name: String,
}

impl Model {
    /// The model behind a Bedrock model id, inference profile id or ARN; `None` for anything that
    /// is not a Claude model this emulator knows (those get no model-specific rules).
    pub fn from_id(model_id: &str) -> Option<Self> {
        let name = base_model_id(model_id).strip_prefix("anthropic.")?;
        let name = strip_version(name);
        NAMES
            .iter()
            .find(|(prefix, _)| is_family(name, prefix))
            .map(|&(_, family)| Self { family, name: name.to_owned() })
    }
}

/// The foundation model id inside an ARN or inference profile id:
/// `arn:…:inference-profile/us.anthropic.claude-opus-4-7` → `anthropic.claude-opus-4-7`.
pub(crate) fn base_model_id(model_id: &str) -> &str {
    let id = model_id.rsplit('/').next().unwrap_or(model_id);
    PROFILE_PREFIXES.iter().find_map(|p| id.strip_prefix(p)).unwrap_or(id)
}

/// `claude-3-5-sonnet-20241022-v2:0` → `claude-3-5-sonnet-20241022`.
fn strip_version(name: &str) -> &str {
    let name = name.split_once(':').map_or(name, |(n, _)| n);
    match name.rsplit_once("-v") {
        Some((rest, version)) if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => name,
    }
}

/// Whether `name` is `prefix` itself or `prefix` followed by a release date, so that
/// `claude-opus-4` does not claim a future `claude-opus-4-9`.
fn is_family(name: &str, prefix: &str) -> bool {
    match name.strip_prefix(prefix) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|date| date.len() == 8 && date.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

impl Family {
    pub fn thinking(self) -> ThinkingStyle {
        match self {
            Self::Haiku3 | Self::Haiku35 | Self::Sonnet35 => ThinkingStyle::None,
            Self::Sonnet46 | Self::Opus46 => ThinkingStyle::BudgetOrAdaptive,
            Self::Opus47 => ThinkingStyle::Adaptive,
            _ => ThinkingStyle::Budget,
        }
    }

    /// Whether `temperature` and `top_p` may not be sent together (from Opus 4.1 on).
    pub fn temperature_or_top_p(self) -> bool {
        matches!(
            self,
            Self::Opus41 | Self::Sonnet45 | Self::Haiku45 | Self::Opus45 | Self::Sonnet46 | Self::Opus46
        )
    }

    /// Whether it takes structured outputs (Opus 4.1, and the 4.5 models on).
    pub fn structured_outputs(self) -> bool {
        matches!(
            self,
            Self::Opus41
                | Self::Sonnet45
                | Self::Haiku45
                | Self::Opus45
                | Self::Sonnet46
                | Self::Opus46
                | Self::Opus47
        )
    }

    /// Whether the sampling parameters were removed (Opus 4.7).
    pub fn sampling_removed(self) -> bool {
        self == Self::Opus47
    }

    /// Whether the conversation may end with an assistant turn for Claude to continue.
    pub fn prefill(self) -> bool {
        !matches!(self, Self::Sonnet46 | Self::Opus46 | Self::Opus47)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(id: &str) -> Option<Family> {
        Model::from_id(id).map(|m| m.family)
    }

    #[test]
    fn bedrock_ids_profiles_and_arns_name_their_family() {
        assert_eq!(family("anthropic.claude-3-haiku-20240307-v1:0"), Some(Family::Haiku3));
        assert_eq!(family("anthropic.claude-3-5-sonnet-20241022-v2:0"), Some(Family::Sonnet35));
        assert_eq!(family("us.anthropic.claude-sonnet-4-20250514-v1:0"), Some(Family::Sonnet4));
        assert_eq!(family("anthropic.claude-opus-4-20250514-v1:0"), Some(Family::Opus4));
        assert_eq!(family("anthropic.claude-opus-4-1-20250805-v1:0"), Some(Family::Opus41));
        assert_eq!(family("global.anthropic.claude-sonnet-4-5-20250929-v1:0"), Some(Family::Sonnet45));
        assert_eq!(family("anthropic.claude-haiku-4-5-20251001-v1:0"), Some(Family::Haiku45));
        assert_eq!(family("eu.anthropic.claude-opus-4-5-20251101-v1:0"), Some(Family::Opus45));
        assert_eq!(family("anthropic.claude-sonnet-4-6"), Some(Family::Sonnet46));
        assert_eq!(family("apac.anthropic.claude-opus-4-6-v1"), Some(Family::Opus46));
        assert_eq!(
            family("arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7"),
            Some(Family::Opus47)
        );
    }

    #[test]
    fn other_models_are_unknown() {
        for id in ["amazon.nova-pro-v1:0", "anthropic.claude-opus-4-9", "anthropic.claude-v2", "my-profile"] {
            assert_eq!(family(id), None, "{id}");
        }
    }

    #[test]
    fn the_name_is_anthropics() {
        let model = Model::from_id("us.anthropic.claude-3-5-haiku-20241022-v1:0").unwrap();
        assert_eq!(model.name, "claude-3-5-haiku-20241022");
    }
}
