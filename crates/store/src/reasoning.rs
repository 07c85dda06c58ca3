//! How an answer's reasoning blocks are kept in its `parts` column without storing their text
//! twice. The text is already in the `reasoning` column (appended as it streams), and the signed
//! blocks split that text in order: each text block is kept as its length in bytes and its
//! signature, and read back by slicing `reasoning`. Redacted blocks carry no text and are kept
//! whole. Rows written before this layout kept each block's `text`; they still read as they were.

use serde::{Deserialize, Serialize};
use streambed_core::ReasoningBlock;

/// One element of `parts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "type")]
pub(crate) enum ReasoningPart {
    Text {
        /// The block's length in bytes, from where the previous text block ended in `reasoning`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bytes: Option<usize>,
        /// The block's own text: only in rows written before `bytes` replaced it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        text: Option<String>,
        signature: Option<String>,
    },
    Redacted {
        data: String,
    },
}

/// The parts to store for `blocks`, whose text blocks, in order, are the start of the
/// message's `reasoning`.
pub(crate) fn parts(blocks: &[ReasoningBlock]) -> Vec<ReasoningPart> {
    blocks
        .iter()
        .map(|block| match block {
            ReasoningBlock::Text { text, signature } => {
                ReasoningPart::Text { bytes: Some(text.len()), text: None, signature: signature.clone() }
            }
            ReasoningBlock::Redacted { data } => ReasoningPart::Redacted { data: data.clone() },
        })
        .collect()
}

/// The blocks `parts` describe, their text taken from `reasoning`. Parts that do not fit the
/// text (which only a hand-edited row could hold) give no blocks at all: the blocks are only
/// ever sent back to the model, and one with the wrong text would be refused for its signature.
pub(crate) fn blocks(parts: Vec<ReasoningPart>, reasoning: &str) -> Vec<ReasoningBlock> {
    let mut at = 0;
    let blocks = parts.into_iter().map(|part| match part {
        ReasoningPart::Text { text: Some(text), signature, .. } => {
            at += text.len();
            Some(ReasoningBlock::Text { text, signature })
        }
        ReasoningPart::Text { bytes, signature, .. } => {
            let end = at + bytes.unwrap_or(0);
            let text = reasoning.get(at..end)?.to_owned();
            at = end;
            Some(ReasoningBlock::Text { text, signature })
        }
        ReasoningPart::Redacted { data } => Some(ReasoningBlock::Redacted { data }),
    });
    blocks.collect::<Option<Vec<_>>>().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(text: &str, signature: &str) -> ReasoningBlock {
        ReasoningBlock::Text { text: text.into(), signature: Some(signature.into()) }
    }

    #[test]
    fn text_blocks_are_kept_as_lengths_and_read_back_from_the_reasoning() {
        let reasoning = "Größe first. Then 👋 second. Unsigned tail";
        let written = [
            signed("Größe first. ", "s1"),
            ReasoningBlock::Redacted { data: "b64".into() },
            signed("Then 👋 second.", "s2"),
        ];

        let stored = parts(&written);
        let json = serde_json::to_string(&stored).unwrap();

        assert!(!json.contains("first") && !json.contains("second"), "no text twice: {json}");
        assert_eq!(blocks(stored, reasoning), written);
    }

    #[test]
    fn rows_written_with_their_text_read_as_before() {
        let old =
            r#"[{"type":"text","text":"Let me think.","signature":"sig"},{"type":"redacted","data":"b64"}]"#;

        let read = blocks(serde_json::from_str(old).unwrap(), "Let me think.");

        assert_eq!(read, [signed("Let me think.", "sig"), ReasoningBlock::Redacted { data: "b64".into() }]);
    }

    #[test]
    fn parts_that_do_not_fit_the_reasoning_give_no_blocks() {
        let too_long = parts(&[signed("longer than the text", "s")]);
        let inside_a_character = parts(&[signed("é", "s")]);

        assert!(blocks(too_long, "short").is_empty());
        assert!(blocks(inside_a_character, "\u{1F44B}").is_empty(), "0..2 of a 4-byte character");
    }
}
