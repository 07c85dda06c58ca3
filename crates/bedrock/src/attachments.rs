//! Images and documents in Converse's terms, and Bedrock's limits on them (API reference:
//! Message, DocumentBlock; the texts quoted are the ones real calls returned).
//!
//! A request holds at most 5 documents ("You can't include more than 5 documents in a
//! request.") and, on Claude, at most 20 images and documents together ("too many images and
//! documents: 21 + 0 > 20", cline/cline#1844). The second limit is kept for every model: the
//! others document none lower, and a model that would take more loses only the oldest of a
//! long conversation's pictures. A conversation only grows, so an agent that took
//! its twenty-first screenshot, or read its sixth PDF, would be refused on every turn from then
//! on: the oldest are left out instead, each with a line in its place that says so, and the
//! newest, which its question is most likely about, are sent. Only what the last user turn
//! itself brings past a limit is refused.
//!
//! Bedrock shows the model each document's name, and refuses a request whose names break its
//! rules: a name holds only letters, digits, single spaces, hyphens, parentheses and square
//! brackets, 1 to 200 of them ("The document file name can only contain alphanumeric
//! characters…"), and no two documents of a request share one ("Messages can't contain
//! duplicate document names."). Clients name documents after files (`Q3 report_final.pdf`), so
//! the names are rewritten here rather than refused.

use std::{
    borrow::Borrow,
    collections::{HashMap, HashSet},
};

use aws_sdk_bedrockruntime::{
    primitives::Blob,
    types::{self as sdk, ContentBlock, ToolResultContentBlock},
};
use streambed_core::{Document, ErrorKind, Image, ImageFormat, Message, ProviderError, Role, Shown};

use crate::content::built;

/// The most documents Bedrock takes in one request.
const MOST_DOCUMENTS: usize = 5;

/// The most images and documents together.
const MOST_SHOWN: usize = 20;

/// Past [`MOST_SHOWN`], the oldest images and documents are left out this many at a time, so
/// the turns before the cut stay the same, and a cached prefix with them, for this many new
/// ones; moving it by one would change an early turn, and lose the cache, on every turn.
const LEFT_OUT_TOGETHER: usize = 5;

/// Bedrock's longest document name.
const LONGEST_NAME: usize = 200;

/// A request's images and documents as they are sent, in the order [`Message::shown`] lists
/// them: the oldest past Bedrock's limits left out, and each document named once. Names are
/// given to the documents left out too, so a document keeps its name when older ones leave, and
/// the model's earlier answers still mean the same one by it. The same conversation always gets
/// the same names and leaves out the same ones, so a cached prefix stays the same from one turn
/// to the next, until a new image or document pushes the oldest out.
#[derive(Debug, Default)]
pub(crate) struct Attachments {
    /// The document names given so far, in lower case: whether Bedrock's rule tells case apart
    /// is not documented, so two names that differ only in case are not risked.
    given: HashSet<String>,
    /// The copy number last given, for each stem a copy's name keeps (in lower case: names cut
    /// to make room for the number share one), so the next copy is counted on from there: a
    /// request of thousands of documents of one name would otherwise count from (2) for each,
    /// in time that grows with the square of their number.
    copies: HashMap<String, u32>,
    /// For each image and document of the request, in order, whether it is sent.
    sent: Vec<bool>,
    /// How many of them were asked for so far.
    next: usize,
}

/// An image or a document as it is sent: its block, or in its place a line that says it was
/// left out.
#[derive(Debug)]
pub(crate) enum Sent<B> {
    Block(B),
    LeftOut(String),
}

impl<B> Sent<B> {
    /// As a block of a message or of a tool's result: the block, or the line as text.
    pub(crate) fn or<T>(self, block: impl FnOnce(B) -> T, text: impl FnOnce(String) -> T) -> T {
        match self {
            Self::Block(sent) => block(sent),
            Self::LeftOut(note) => text(note),
        }
    }
}

/// Whether each image and document of a turn, in the order it is sent, is a document.
fn documents(turn: &Message) -> impl Iterator<Item = bool> + '_ {
    turn.shown().map(|shown| matches!(shown, Shown::Document(_)))
}

impl Attachments {
    /// The images and documents of `turns`, and which of them are sent. `turns` are the turns
    /// as they are sent ([`crate::content::arranged`]), and [`Self::image`] and
    /// [`Self::document`] must then be asked for each in the same order. More in the last user
    /// turn than Bedrock takes is refused: what the client sent with its question cannot be
    /// left out.
    pub(crate) fn of(turns: &[impl Borrow<Message>]) -> Result<Self, ProviderError> {
        let turns = || turns.iter().map(Borrow::borrow);
        let last = turns().rev().find(|turn| turn.role == Role::User);
        let (brought, asked) = last.map_or((0, 0), |last| {
            documents(last)
                .fold((0, 0), |(brought, asked), document| (brought + usize::from(document), asked + 1))
        });
        let refuse = |message: String| Err(ProviderError::new(ErrorKind::InvalidRequest, message));
        if brought > MOST_DOCUMENTS {
            return refuse(format!(
                "Bedrock takes at most {MOST_DOCUMENTS} documents in a request, and the last user turn holds \
                 {brought}: send fewer."
            ));
        }
        if asked > MOST_SHOWN {
            return refuse(format!(
                "Bedrock takes at most {MOST_SHOWN} images and documents in a request, and the last user turn \
                 holds {asked}: send fewer."
            ));
        }
        // The newest five documents, then of what is left the newest twenty, the cut moved
        // LEFT_OUT_TOGETHER at a time but never into the last user turn.
        let all: Vec<bool> = turns().flat_map(documents).collect();
        let mut newer = 0;
        let mut sent: Vec<bool> = all
            .iter()
            .rev()
            .map(|&document| {
                newer += usize::from(document);
                !document || newer <= MOST_DOCUMENTS
            })
            .collect();
        sent.reverse();
        let fitting = sent.iter().filter(|&&sent| sent).count();
        if fitting > MOST_SHOWN {
            // `asked` are all among the fitting (the newest are kept, and `build` refuses
            // attachments after the last user turn); saturating, should a caller not have.
            let out =
                (fitting - MOST_SHOWN).next_multiple_of(LEFT_OUT_TOGETHER).min(fitting.saturating_sub(asked));
            sent.iter_mut().filter(|sent| **sent).take(out).for_each(|sent| *sent = false);
        }
        Ok(Self { given: HashSet::new(), copies: HashMap::new(), sent, next: 0 })
    }

    /// Whether the next image or document of the request is sent. One the plan does not know
    /// (a block built outside [`Self::of`], as in tests) is.
    fn sends_next(&mut self) -> bool {
        let sent = self.sent.get(self.next).copied().unwrap_or(true);
        self.next += 1;
        sent
    }

    /// Whether every image and document of the plan was asked for, as the plan saw them.
    pub(crate) fn all_asked(&self) -> bool {
        self.next == self.sent.len()
    }

    /// The next image of the request, in order.
    pub(crate) fn image(&mut self, image: &Image) -> Result<Sent<sdk::ImageBlock>, ProviderError> {
        if !self.sends_next() {
            return Ok(Sent::LeftOut(format!(
                "(An image was shown here. It is no longer sent: Bedrock takes at most {MOST_SHOWN} images \
                 and documents in a request, and this conversation has more; the latest are sent.)"
            )));
        }
        let format = match image.format {
            ImageFormat::Png => sdk::ImageFormat::Png,
            ImageFormat::Jpeg => sdk::ImageFormat::Jpeg,
            ImageFormat::Gif => sdk::ImageFormat::Gif,
            ImageFormat::Webp => sdk::ImageFormat::Webp,
        };
        let block = sdk::ImageBlock::builder()
            .format(format)
            .source(sdk::ImageSource::Bytes(Blob::new(image.data.clone())))
            .build();
        Ok(Sent::Block(built(block)?))
    }

    /// The next document of the request, in order.
    pub(crate) fn document(
        &mut self,
        document: &Document,
    ) -> Result<Sent<sdk::DocumentBlock>, ProviderError> {
        let sent = self.sends_next();
        let name = self.name(document.name.as_deref());
        if !sent {
            return Ok(Sent::LeftOut(format!(
                "(The document \"{name}\" was attached here. It is no longer sent: Bedrock reads at most \
                 {MOST_DOCUMENTS} documents and {MOST_SHOWN} images and documents in a request, and this \
                 conversation has more; the latest are sent.)"
            )));
        }
        let block = sdk::DocumentBlock::builder()
            .format(sdk::DocumentFormat::from(document.format.extension()))
            .name(name)
            .source(sdk::DocumentSource::Bytes(Blob::new(document.data.clone())))
            .set_context(document.context.clone())
            .build();
        Ok(Sent::Block(built(block)?))
    }

    /// A name Bedrock takes, from the client's: readable, else "Document"; then numbered, as a
    /// file manager numbers copies, when an earlier document of the request has it.
    fn name(&mut self, asked: Option<&str>) -> String {
        let readable = asked.map(readable).filter(|name| !name.is_empty());
        let base = readable.unwrap_or_else(|| "Document".to_owned());
        let numbered = |copy: u32| {
            let suffix = format!(" ({copy})");
            let kept: String = base.chars().take(LONGEST_NAME - suffix.len()).collect();
            format!("{}{suffix}", kept.trim_end())
        };
        let name = if self.given.contains(&base.to_lowercase()) {
            let stem: String = base.chars().take(LONGEST_NAME - " (99999)".len()).collect();
            // Copy 1 is the name itself.
            let last = self.copies.entry(stem.to_lowercase()).or_insert(1);
            loop {
                *last += 1;
                let name = numbered(*last);
                if !self.given.contains(&name.to_lowercase()) {
                    break name;
                }
            }
        } else {
            base
        };
        self.given.insert(name.to_lowercase());
        name
    }
}

/// A file name as Bedrock takes a document's name: without its extension (a `.` is refused),
/// other refused characters as spaces, runs of spaces as one, at most 200 characters.
fn readable(file_name: &str) -> String {
    let stem = match file_name.rsplit_once('.') {
        Some((stem, extension)) if !stem.trim().is_empty() && !extension.contains(' ') => stem,
        _ => file_name,
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '(' | ')' | '[' | ']');
    let spaced: String = stem.chars().map(|c| if allowed(c) { c } else { ' ' }).collect();
    let words = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    words.chars().take(LONGEST_NAME).collect::<String>().trim_end().to_owned()
}

/// Converse takes documents only in a message that also has text ("A text block must be
/// included when using documents."), and Claude refuses a cache point right after a document
/// ("messages.0.content.2.type: Field required", in aws-samples/amazon-bedrock-client-for-mac#119).
/// A turn whose documents come without text, or last, gets a line of text after them that names
/// them. Documents inside a tool's result count too: whether the rule reaches them is not
/// documented, and a line after the results is no harm. The turn is [`crate::content::arranged`]
/// already, so a document inside a result is never last unless the results are all there is;
/// and the line goes in before any cache point is added.
pub(crate) fn with_text(content: &mut Vec<ContentBlock>) {
    let named = |block: &ContentBlock| match block {
        ContentBlock::Document(document) => Some(document.name().to_owned()),
        _ => None,
    };
    let returned = |block: &ContentBlock| match block {
        ContentBlock::ToolResult(result) => result
            .content()
            .iter()
            .filter_map(|part| match part {
                ToolResultContentBlock::Document(document) => Some(document.name().to_owned()),
                _ => None,
            })
            .collect(),
        block => named(block).into_iter().collect::<Vec<_>>(),
    };
    let names: Vec<String> = content.iter().flat_map(returned).collect();
    let has_text = content.iter().any(|block| matches!(block, ContentBlock::Text(_)));
    let ends_with_one = content.last().is_some_and(|block| named(block).is_some());
    if !names.is_empty() && (!has_text || ends_with_one) {
        content.push(ContentBlock::Text(format!("(Attached: {}.)", names.join(", "))));
    }
}

#[cfg(test)]
mod tests {
    use streambed_core::DocumentFormat;

    use super::*;

    fn document(name: Option<&str>) -> Document {
        Document { format: DocumentFormat::Pdf, name: name.map(str::to_owned), context: None, data: vec![1] }
    }

    fn sent(attachments: &mut Attachments, document: &Document) -> sdk::DocumentBlock {
        match attachments.document(document).unwrap() {
            Sent::Block(block) => block,
            Sent::LeftOut(note) => panic!("left out: {note}"),
        }
    }

    #[test]
    fn file_names_become_names_bedrock_takes_each_given_once() {
        let mut attachments = Attachments::default();
        let mut named = |name: Option<&str>| sent(&mut attachments, &document(name)).name().to_owned();
        assert_eq!(named(Some("Q3 report_final.v2.pdf")), "Q3 report final v2");
        assert_eq!(named(Some("John's  report (draft) [1].pdf")), "John s report (draft) [1]");
        assert_eq!(named(Some("Q3 report_final.v2.docx")), "Q3 report final v2 (2)");
        assert_eq!(named(Some("q3 REPORT final v2.pdf")), "q3 REPORT final v2 (3)", "case is not told apart");
        assert_eq!(named(Some("分期报告.pdf")), "Document");
        assert_eq!(named(None), "Document (2)");
        assert_eq!(named(Some(".pdf")), "pdf");
        let long = "a".repeat(300);
        assert_eq!(named(Some(&long)).len(), 200);
        let copy = named(Some(&long));
        assert!(copy.ends_with("a (2)") && copy.len() == 200, "{copy}");
        // A name given as it came ("x (2)") is skipped by the copies of "x".
        assert_eq!(named(Some("x (2).pdf")), "x (2)");
        assert_eq!(named(Some("x.pdf")), "x");
        assert_eq!(named(Some("x.pdf")), "x (3)");
        assert_eq!(named(Some("x.pdf")), "x (4)");
    }

    #[test]
    fn copies_of_one_name_are_counted_on_from_the_last_not_from_two() {
        let mut attachments = Attachments::default();
        // Counted from (2) each time, 20,000 copies would take 200 million tries.
        let names: Vec<_> = (0..20_000).map(|_| attachments.name(Some("a"))).collect();
        assert_eq!(names[19_999], "a (20000)");
        assert_eq!(attachments.copies["a"], 20_000);
        // Long names that differ only where a copy's number cuts them share one count.
        let long = |i: usize| format!("{}{i:04}", "b".repeat(196));
        for i in 0..2_000 {
            assert_eq!(attachments.name(Some(&long(i))), long(i));
            attachments.name(Some(&long(i)));
        }
        assert_eq!(attachments.copies.len(), 2, "{:?}", attachments.copies.keys());
        assert_eq!(attachments.copies[&"b".repeat(192)], 2_001);
    }

    #[test]
    fn the_source_format_and_context_are_sent() {
        let mut document = document(Some("notes.md"));
        document.format = DocumentFormat::Md;
        document.context = Some("From the wiki".into());
        let block = sent(&mut Attachments::default(), &document);
        assert_eq!(block.format(), &sdk::DocumentFormat::Md);
        assert_eq!(block.context(), Some("From the wiki"));
        assert!(matches!(block.source(), Some(sdk::DocumentSource::Bytes(b)) if b.as_ref() == [1]));
    }

    #[test]
    fn documents_without_text_or_last_get_a_line_naming_them() {
        let mut attachments = Attachments::default();
        let a = ContentBlock::Document(sent(&mut attachments, &document(Some("a.pdf"))));
        let b = ContentBlock::Document(sent(&mut attachments, &document(Some("b.pdf"))));
        let text = ContentBlock::Text("Compare them.".into());

        let mut alone = vec![a.clone(), b.clone()];
        with_text(&mut alone);
        assert_eq!(alone[2], ContentBlock::Text("(Attached: a, b.)".into()));

        let mut last = vec![text.clone(), a.clone()];
        with_text(&mut last);
        assert_eq!(last.len(), 3);

        let mut asked_after = vec![a, b, text];
        with_text(&mut asked_after);
        assert_eq!(asked_after.len(), 3, "a question after the documents is the text");

        let mut none = vec![ContentBlock::Text("hi".into())];
        with_text(&mut none);
        assert_eq!(none.len(), 1);
    }
}
