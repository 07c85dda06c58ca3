//! A readable name for a Claude model id the operator gave none (`BEDROCK_MODELS=id=Name` gives
//! one): `us.anthropic.claude-sonnet-4-5-20250929-v1:0` reads "Claude Sonnet 4.5", as the UI's
//! model picker and the APIs' model lists show it. Other ids (another provider's, an
//! application inference profile's ARN, which names no model) are shown as they are.

/// The id Anthropic's own API gives the Claude model `id` names, without Bedrock's version of it
/// (`us.anthropic.claude-sonnet-4-5-20250929-v1:0` → `claude-sonnet-4-5-20250929`); `None` for
/// another provider's model, or an ARN that names none.
pub fn anthropic_id(id: &str) -> Option<&str> {
    let name = crate::rules::model_part(id)?.strip_prefix("anthropic.")?;
    // `-v1:0`, `-v1`: Bedrock's version of the model, which Anthropic's ids do not carry.
    match name.rsplit_once("-v") {
        Some((name, version)) if version.split(':').all(|n| n.parse::<u32>().is_ok()) => Some(name),
        _ => Some(name),
    }
}

/// The name, if `id` is one of Anthropic's models on Bedrock.
pub(crate) fn readable(id: &str) -> Option<String> {
    // After an ARN's, a cross-region profile's and the provider's parts; before `:0`.
    let model = crate::rules::model_part(id)?.strip_prefix("anthropic.")?;
    let model = model.split(':').next()?;
    let mut name: Vec<String> = Vec::new();
    let mut numeric_before = false;
    for word in model.split('-') {
        let numeric = !word.is_empty() && word.bytes().all(|b| b.is_ascii_digit());
        // A release date (20250929) and the id's version (v1) are not the model's name.
        let version =
            word.strip_prefix('v').is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if (numeric && word.len() == 8) || version || word.is_empty() {
            continue;
        }
        match name.last_mut() {
            // `4-5` is 4.5.
            Some(last) if numeric && numeric_before => {
                last.push('.');
                last.push_str(word);
            }
            _ => {
                let mut letters = word.chars();
                let first = letters.next()?.to_ascii_uppercase();
                name.push(first.to_string() + letters.as_str());
            }
        }
        numeric_before = numeric;
    }
    // "Claude" alone (`claude-v2`) names no model.
    (name.first().map(String::as_str) == Some("Claude") && name.len() > 1).then(|| name.join(" "))
}

#[cfg(test)]
mod tests {
    use super::{anthropic_id, readable};

    #[test]
    fn claude_ids_carry_anthropics_own_id_and_others_none() {
        for (id, anthropics) in [
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", Some("claude-sonnet-4-5-20250929")),
            ("anthropic.claude-instant-v1", Some("claude-instant")),
            (
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                Some("claude-3-7-sonnet-20250219"),
            ),
            ("amazon.nova-pro-v1:0", None),
            ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", None),
        ] {
            assert_eq!(anthropic_id(id), anthropics, "{id}");
        }
    }

    #[test]
    fn claude_ids_read_as_anthropic_names_them_and_others_are_left_alone() {
        for (id, name) in [
            ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
            ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "Claude Sonnet 4.5"),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet"),
            ("global.anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1"),
            (
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                "Claude 3.7 Sonnet",
            ),
            ("anthropic.claude-instant-v1", "Claude Instant"),
        ] {
            assert_eq!(readable(id).as_deref(), Some(name), "{id}");
        }
        for other in [
            "amazon.nova-pro-v1:0",
            "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123",
            "anthropic.",
            "anthropic.claude-v2:1",
        ] {
            assert_eq!(readable(other), None, "{other}");
        }
    }
}
