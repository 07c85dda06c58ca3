//! A stored answer's reasoning blocks, as Bedrock sends them back on the next turn.

use std::mem;

use streambed_core::ReasoningBlock;

/// Reasoning blocks as they arrive: text runs closed by their signature, redacted blocks.
#[derive(Debug, Default)]
pub(super) struct ReasoningBlocks {
    done: Vec<ReasoningBlock>,
    open: Option<String>,
}

impl ReasoningBlocks {
    pub(super) fn text(&mut self, text: &str) {
        self.open.get_or_insert_with(String::new).push_str(text);
    }

    pub(super) fn signature(&mut self, signature: &str) {
        let text = self.open.take().unwrap_or_default();
        self.done.push(ReasoningBlock::Text { text, signature: Some(signature.to_owned()) });
    }

    pub(super) fn redacted(&mut self, data: &str) {
        self.done.push(ReasoningBlock::Redacted { data: data.to_owned() });
    }

    /// The signed and redacted blocks; an unsigned run cannot be sent back, so it is left out
    /// (its text is in the message's reasoning).
    pub(super) fn take(&mut self) -> Vec<ReasoningBlock> {
        self.open = None;
        mem::take(&mut self.done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasoning_blocks_close_at_their_signature_and_unsigned_runs_are_left_out() {
        let mut blocks = ReasoningBlocks::default();
        blocks.text("Let me ");
        blocks.text("think.");
        blocks.signature("sig-1");
        blocks.redacted("b64");
        blocks.text("cut off before its signature");

        assert_eq!(
            blocks.take(),
            [
                ReasoningBlock::Text { text: "Let me think.".into(), signature: Some("sig-1".into()) },
                ReasoningBlock::Redacted { data: "b64".into() },
            ]
        );
        assert!(blocks.take().is_empty());
    }
}
