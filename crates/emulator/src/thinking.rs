//! Claude's extended thinking, as Bedrock streams it: readable reasoning closed by a signature,
//! then a redacted (encrypted) block, before the answer. Signatures are derived from the
//! reasoning text, so the emulator can tell whether a client sent a block back unchanged.

use std::hash::{DefaultHasher, Hash, Hasher};

use aws_smithy_types::base64;
use streambed_core::{ChatEvent, ChatRequest};

/// What the redacted block decrypts to, were it real.
const REDACTED: &[u8] = b"streambed-emulator: reasoning the safety systems redacted";

/// The reasoning events that open an answer: text deltas, the signature, then a redacted block.
pub(crate) fn prelude(request: &ChatRequest) -> Vec<ChatEvent> {
    let said = request.last_user_text().unwrap_or_default();
    let said = said.trim();
    let deltas = [
        "Let me think about this. ".to_owned(),
        format!("The person wrote \"{said}\". "),
        "A short, friendly answer fits.".to_owned(),
    ];
    let signature = sign(&deltas.concat());
    let mut events: Vec<ChatEvent> = deltas.into_iter().map(ChatEvent::Reasoning).collect();
    events.push(ChatEvent::ReasoningSignature(signature));
    events.push(ChatEvent::RedactedReasoning(redacted()));
    events
}

/// Base64 of the redacted block's bytes (a blob on the wire).
pub(crate) fn redacted() -> String {
    base64::encode(REDACTED)
}

/// The signature the emulator gives a reasoning text.
pub(crate) fn sign(text: &str) -> String {
    let mut hasher = DefaultHasher::new();
    text.hash(&mut hasher);
    base64::encode(format!("streambed-emulator-signature:{:016x}", hasher.finish()))
}

/// Whether `signature` is the one the emulator gave `text`.
pub(crate) fn verify(text: &str, signature: &str) -> bool {
    sign(text) == signature
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prelude_is_reasoning_then_its_signature_then_a_redacted_block() {
        let events = prelude(&ChatRequest::from_prompt("hi"));
        let text: String = events
            .iter()
            .filter_map(|e| match e {
                ChatEvent::Reasoning(t) => Some(t.as_str()),
                _ => None,
            })
            .collect();
        assert!(text.contains("\"hi\""));
        let [.., ChatEvent::ReasoningSignature(signature), ChatEvent::RedactedReasoning(data)] =
            events.as_slice()
        else {
            panic!("{events:?}")
        };
        assert!(verify(&text, signature));
        assert!(!verify("something else", signature));
        assert_eq!(base64::decode(data).unwrap(), REDACTED);
    }
}
