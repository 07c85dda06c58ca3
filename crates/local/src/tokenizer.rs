//! The tokenizer, built from the GGUF's own vocabulary and merges.

use std::collections::HashSet;

use candle_core::quantized::{gguf_file, tokenizer::TokenizerFromGguf};
use tokenizers::{
    Tokenizer,
    pre_tokenizers::{byte_level::ByteLevel, digits::Digits, sequence::Sequence},
};

use crate::{LoadError, decode::ByteTable};

/// The tokenizer plus what generation needs to know about its special tokens.
#[derive(Debug)]
pub(crate) struct ChatTokenizer {
    inner: Tokenizer,
    bytes: ByteTable,
    /// `<|im_end|>` and `<|endoftext|>`: either ends the answer.
    stop: HashSet<u32>,
}

impl ChatTokenizer {
    pub(crate) fn from_gguf(content: &gguf_file::Content) -> Result<Self, LoadError> {
        let mut inner = Tokenizer::from_gguf(content).map_err(LoadError::model)?;
        // candle does not know `pre = "smollm"` and falls back to GPT-2's pre-tokenizer with a
        // prefix space, which mangles the chat template (`Ġuser`). SmolLM2's own tokenizer.json
        // splits digits one by one, then applies byte-level without a prefix space.
        inner.with_pre_tokenizer(Some(Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])));
        let control: HashSet<u32> = inner
            .get_added_tokens_decoder()
            .into_iter()
            .filter(|(_, t)| t.special)
            .map(|(id, _)| id)
            .collect();
        let vocab_size = inner.get_vocab_size(true);
        let tokens: Vec<String> = (0..u32::try_from(vocab_size).unwrap_or(u32::MAX))
            .map(|id| inner.id_to_token(id).unwrap_or_default())
            .collect();
        let bytes = ByteTable::new(tokens.iter().map(String::as_str), &control);
        let stop = ["<|im_end|>", "<|endoftext|>"]
            .iter()
            .filter_map(|t| inner.token_to_id(t))
            .collect::<HashSet<_>>();
        if stop.is_empty() {
            return Err(LoadError::Model("the GGUF has no <|im_end|> token; is it SmolLM2-Instruct?".into()));
        }
        Ok(Self { inner, bytes, stop })
    }

    /// Token ids for text that may contain control tokens (the rendered chat template).
    pub(crate) fn encode(&self, text: &str) -> Vec<u32> {
        // Encoding a valid &str cannot fail for a BPE model built from a full vocabulary.
        self.inner.encode(text, false).map(|e| e.get_ids().to_vec()).unwrap_or_default()
    }

    pub(crate) fn bytes(&self, id: u32) -> &[u8] {
        self.bytes.bytes(id)
    }

    pub(crate) fn is_stop(&self, id: u32) -> bool {
        self.stop.contains(&id)
    }

    /// The reference decoder, for tests of the streaming one.
    #[cfg(test)]
    pub(crate) fn decode(&self, ids: &[u32]) -> String {
        self.inner.decode(ids, true).unwrap_or_default()
    }

    #[cfg(test)]
    pub(crate) fn id(&self, token: &str) -> u32 {
        self.inner.token_to_id(token).unwrap_or_else(|| panic!("{token} is in the vocabulary"))
    }
}

#[cfg(test)]
mod tests {
    use std::{fs::File, io::BufReader, sync::OnceLock};

    use proptest::prelude::*;

    use super::*;
    use crate::decode::Utf8Stream;

    /// The real tokenizer from the model file that `just model` fetches.
    fn tokenizer() -> &'static ChatTokenizer {
        static TOKENIZER: OnceLock<ChatTokenizer> = OnceLock::new();
        TOKENIZER.get_or_init(|| {
            let path = crate::tests::model_path();
            let mut file = BufReader::new(
                File::open(&path).unwrap_or_else(|e| panic!("{}: {e}; run `just model`", path.display())),
            );
            ChatTokenizer::from_gguf(&gguf_file::Content::read(&mut file).expect("a GGUF file"))
                .expect("a chat tokenizer")
        })
    }

    fn stream_decode(t: &ChatTokenizer, ids: &[u32]) -> String {
        let mut stream = Utf8Stream::default();
        ids.iter().filter_map(|id| stream.push(t.bytes(*id))).collect()
    }

    #[test]
    fn the_chat_template_tokenizes_without_prefix_spaces() {
        let t = tokenizer();
        let ids = t.encode("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
        let (ass, istant) = (t.id("ass"), t.id("istant"));
        let expected = [1, t.id("user"), t.id("Ċ"), t.id("Hi"), 2, t.id("Ċ"), 1, ass, istant, t.id("Ċ")];
        assert_eq!(ids, expected, "no `Ġuser`, no `ĠĊ`: the template is tokenized as SmolLM2 was trained");
    }

    #[test]
    fn digits_are_split_one_by_one_and_words_keep_their_leading_space() {
        let t = tokenizer();
        assert_eq!(t.encode("2024"), [t.id("2"), t.id("0"), t.id("2"), t.id("4")]);
        assert_eq!(t.encode("Hello world"), [t.id("Hello"), t.id("Ġworld")]);
    }

    #[test]
    fn accents_emoji_and_whitespace_round_trip() {
        let t = tokenizer();
        for text in ["café 👋 naïve — 日本語", "🎉🎉", "\n\n  indented", "e\u{301}"] {
            let ids = t.encode(text);
            assert_eq!(stream_decode(t, &ids), text);
            assert_eq!(t.decode(&ids), text);
        }
        assert_eq!(
            t.encode("👋"),
            [t.id("ðŁ"), t.id("ĳ"), t.id("ĭ")],
            "an emoji spans three byte-level tokens"
        );
    }

    /// Reference ids from llama.cpp (llama-cpp-python 0.3, `tokenize(…, special=True)` on the same
    /// GGUF, in the venv `scripts/bench-llama-cpp.sh` builds): template, digits one by one,
    /// accents, CJK, emoji, whitespace runs and contractions.
    #[test]
    fn ids_match_llama_cpp_on_the_same_gguf() {
        let t = tokenizer();
        let cases: [(&str, &[u32]); 5] = [
            (
                "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
                &[1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198],
            ),
            (
                "In 2024, 12345 items cost $6.78.",
                &[
                    788, 216, 34, 32, 34, 36, 28, 216, 33, 34, 35, 36, 37, 3723, 1708, 1885, 38, 30, 39, 40,
                    30,
                ],
            ),
            (
                "café naïve — 日本語 👋🎉",
                &[
                    83, 1939, 2756, 15486, 46494, 1841, 17097, 241, 115, 40993, 179, 120, 248, 15107, 235,
                    229, 10813, 232, 227,
                ],
            ),
            ("  indented\n\ttab", &[216, 641, 6574, 198, 197, 15999]),
            ("Don't stop; it's fine!", &[8084, 982, 2853, 43, 357, 506, 4979, 17]),
        ];
        for (text, ids) in cases {
            assert_eq!(t.encode(text), ids, "{text:?}");
        }
    }

    #[test]
    fn control_bytes_missing_from_the_vocabulary_are_dropped_as_llama_cpp_does() {
        let t = tokenizer();
        assert!(t.encode("\u{13}").is_empty());
        assert_eq!(stream_decode(t, &t.encode("a\u{13}b")), "ab");
    }

    #[test]
    fn control_tokens_stop_and_are_never_shown() {
        let t = tokenizer();
        assert!(t.is_stop(2) && t.is_stop(0));
        assert!(t.bytes(1).is_empty() && t.bytes(2).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Except at the end: ids that stop inside a character decode whole to a last U+FFFD,
        /// where the stream shows nothing of that character.
        #[test]
        fn incremental_decoding_equals_full_decoding(ids in prop::collection::vec(3u32..49_152, 0..64)) {
            let t = tokenizer();
            let (streamed, full) = (stream_decode(t, &ids), t.decode(&ids));
            prop_assert!(streamed == full || format!("{streamed}\u{FFFD}") == full, "{:?} vs {:?}", streamed, full);
        }

        /// Real text: the BMP and the emoji plane. The vocabulary has no token for the lead
        /// bytes of planes 4–15 (no assigned characters) nor for the control bytes 0x04, 0x06,
        /// 0x13, 0x14, 0x16 and 0x1D, which the tokenizer drops exactly as llama.cpp does on
        /// this GGUF; those cannot round-trip.
        #[test]
        fn valid_text_never_decodes_to_replacement_characters(
            text in "[\u{0}-\u{3}\u{5}\u{7}-\u{12}\u{15}\u{17}-\u{1C}\u{1E}-\u{D7FF}\u{E000}-\u{FFFC}\u{10000}-\u{1FFFF}]{0,40}"
        ) {
            let t = tokenizer();
            let decoded = stream_decode(t, &t.encode(&text));
            prop_assert!(!decoded.contains(char::REPLACEMENT_CHARACTER), "{:?}", decoded);
            prop_assert_eq!(decoded, text);
        }
    }
}
