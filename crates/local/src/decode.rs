//! Streaming detokenization. SmolLM2's tokens are byte-level BPE: an emoji can span three
//! tokens, so decoding token by token would emit U+FFFD. We map each token to its raw bytes
//! once, then emit the longest valid UTF-8 prefix as tokens arrive. An answer cut off (by
//! `max_tokens`) inside a character ends on its first bytes, which make no character: they are
//! dropped, as a U+FFFD would show a character the model never wrote.

use std::collections::HashSet;

/// GPT-2's byte-to-character table, inverted. The `tokenizers` crate keeps its copy private
/// (`bytes_char` is `pub(crate)`), so it is reproduced here: printable Latin-1 bytes map to
/// themselves, the other 68 bytes to U+0100 onwards, in byte order.
fn char_to_byte(c: char) -> Option<u8> {
    let printable =
        |b: u32| (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b);
    let code = u32::from(c);
    if printable(code) {
        return u8::try_from(code).ok();
    }
    let offset = code.checked_sub(0x100)?;
    (0u32..=255).filter(|b| !printable(*b)).nth(offset as usize).and_then(|b| u8::try_from(b).ok())
}

/// Token id → the bytes it stands for; `None` for control tokens, which are never shown.
#[derive(Debug)]
pub(crate) struct ByteTable(Vec<Option<Vec<u8>>>);

impl ByteTable {
    pub(crate) fn new<'a>(tokens: impl IntoIterator<Item = &'a str>, control: &HashSet<u32>) -> Self {
        let table = tokens
            .into_iter()
            .enumerate()
            .map(|(id, token)| {
                let id = u32::try_from(id).ok()?;
                if control.contains(&id) {
                    return None;
                }
                token.chars().map(char_to_byte).collect::<Option<Vec<u8>>>()
            })
            .collect();
        Self(table)
    }

    pub(crate) fn bytes(&self, id: u32) -> &[u8] {
        self.0.get(id as usize).and_then(|b| b.as_deref()).unwrap_or_default()
    }
}

/// Turns a token stream into text pieces that are always complete UTF-8.
#[derive(Debug, Default)]
pub(crate) struct Utf8Stream {
    pending: Vec<u8>,
}

impl Utf8Stream {
    /// Adds a token's bytes; returns the text that became complete, if any.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(text) => {
                    out.push_str(text);
                    self.pending.clear();
                    break;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(std::str::from_utf8(&self.pending[..valid]).expect("checked above"));
                    match e.error_len() {
                        // An incomplete character at the end: wait for the next token.
                        None => {
                            self.pending.drain(..valid);
                            break;
                        }
                        // Bytes that can never become valid: show one replacement and go on.
                        Some(bad) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + bad);
                        }
                    }
                }
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_byte_table_inverts_gpt2s_mapping() {
        assert_eq!(char_to_byte('A'), Some(b'A'));
        assert_eq!(char_to_byte('Ġ'), Some(b' '));
        assert_eq!(char_to_byte('Ċ'), Some(b'\n'));
        assert_eq!(char_to_byte('ð'), Some(0xF0));
        assert_eq!(char_to_byte('\u{0100}'), Some(0));
        assert_eq!(char_to_byte('中'), None);
    }

    #[test]
    fn a_character_split_across_tokens_is_emitted_once_whole() {
        let mut stream = Utf8Stream::default();
        let wave = "👋".as_bytes();
        assert_eq!(stream.push(&wave[..1]), None);
        assert_eq!(stream.push(&wave[1..3]), None);
        assert_eq!(stream.push(&[wave[3], b'!']), Some("👋!".into()));
    }

    #[test]
    fn invalid_bytes_become_one_replacement_each_and_the_rest_flows() {
        let mut stream = Utf8Stream::default();
        assert_eq!(stream.push(&[b'a', 0xFF, b'b']), Some("a\u{FFFD}b".into()));
        assert_eq!(stream.push(&[0xE2, 0x82]), None, "the first bytes of a character are held back");
    }
}
