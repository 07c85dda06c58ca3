//! Documents in Converse's terms. Bedrock shows the model each document's name, and refuses a
//! request whose names break its rules (API reference: DocumentBlock; the texts below are the
//! ones real calls returned): a name holds only letters, digits, single spaces, hyphens,
//! parentheses and square brackets, 1 to 200 of them ("The document file name can only contain
//! alphanumeric characters…"), no two documents of a request share one ("Messages can't contain
//! duplicate document names."), and a request holds at most five ("You can't include more than
//! 5 documents in a request."). Clients name documents after files (`Q3 report_final.pdf`), so
//! the names are rewritten here rather than refused.

use std::collections::HashSet;

use aws_sdk_bedrockruntime::{
    primitives::Blob,
    types::{self as sdk, ContentBlock},
};
use streambed_core::{ChatRequest, Document, ErrorKind, ProviderError};

use crate::content::built;

/// The most documents Bedrock takes in one request.
const MOST: usize = 5;

/// Bedrock's longest document name.
const LONGEST_NAME: usize = 200;

/// A request's documents as they are sent, in order: each named once, and the oldest left out
/// when the conversation holds more than Bedrock takes. An agent that reads a sixth PDF, or a
/// chat that sends its history back, would otherwise be refused on every turn from then on
/// (its history only grows); the newest five are the ones its question is most likely about.
/// The same request always gets the same names, so a cached prefix stays the same from one
/// turn to the next.
#[derive(Debug, Default)]
pub(crate) struct Documents {
    /// The names given so far, in lower case: whether Bedrock's rule tells case apart is not
    /// documented, so two names that differ only in case are not risked.
    given: HashSet<String>,
    /// How many documents, from the first, are left out.
    left_out: usize,
}

/// A document as it is sent: a block, or in its place a line that says it was left out.
#[derive(Debug)]
pub(crate) enum Sent {
    Block(sdk::DocumentBlock),
    LeftOut(String),
}

impl Documents {
    /// The documents of `request`. More in its last turn than Bedrock takes is refused: those
    /// the client sent with its question cannot be left out.
    pub(crate) fn of(request: &ChatRequest) -> Result<Self, ProviderError> {
        let all = request.documents().count();
        let last = request.messages.last().map_or(0, |turn| turn.documents().count());
        if last > MOST {
            return Err(ProviderError::new(
                ErrorKind::InvalidRequest,
                format!(
                    "Bedrock takes at most {MOST} documents in a request, and the last turn holds {last}: send fewer."
                ),
            ));
        }
        Ok(Self { given: HashSet::new(), left_out: all.saturating_sub(MOST) })
    }

    /// The next document of the request, in order.
    pub(crate) fn send(&mut self, document: &Document) -> Result<Sent, ProviderError> {
        if self.left_out > 0 {
            self.left_out -= 1;
            let called = document.name.as_deref().map(|name| format!(" ({name})")).unwrap_or_default();
            return Ok(Sent::LeftOut(format!(
                "(A document{called} was attached here. It is no longer sent: Bedrock reads at most {MOST} \
                 documents in a request, and this conversation has more; the latest {MOST} are sent.)"
            )));
        }
        let block = sdk::DocumentBlock::builder()
            .format(sdk::DocumentFormat::from(document.format.extension()))
            .name(self.name(document.name.as_deref()))
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
        let mut name = base.clone();
        let mut copy = 1;
        while self.given.contains(&name.to_lowercase()) {
            copy += 1;
            let suffix = format!(" ({copy})");
            let kept: String = base.chars().take(LONGEST_NAME - suffix.len()).collect();
            name = format!("{}{suffix}", kept.trim_end());
        }
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

/// Converse takes documents only in a message that also has text, and Claude refuses a cache
/// point right after a document ("messages.0.content.2.type: Field required", in
/// aws-samples/amazon-bedrock-client-for-mac#119). A turn whose documents come without text,
/// or last, gets a line of text after them that names them.
pub(crate) fn with_text(content: &mut Vec<ContentBlock>) {
    let named = |block: &ContentBlock| match block {
        ContentBlock::Document(document) => Some(document.name().to_owned()),
        _ => None,
    };
    let names: Vec<String> = content.iter().filter_map(named).collect();
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

    fn sent(documents: &mut Documents, document: &Document) -> sdk::DocumentBlock {
        match documents.send(document).unwrap() {
            Sent::Block(block) => block,
            Sent::LeftOut(note) => panic!("left out: {note}"),
        }
    }

    #[test]
    fn file_names_become_names_bedrock_takes_each_given_once() {
        let mut documents = Documents::default();
        let mut named = |name: Option<&str>| sent(&mut documents, &document(name)).name().to_owned();
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
    }

    #[test]
    fn the_source_format_and_context_are_sent() {
        let mut document = document(Some("notes.md"));
        document.format = DocumentFormat::Md;
        document.context = Some("From the wiki".into());
        let block = sent(&mut Documents::default(), &document);
        assert_eq!(block.format(), &sdk::DocumentFormat::Md);
        assert_eq!(block.context(), Some("From the wiki"));
        assert!(matches!(block.source(), Some(sdk::DocumentSource::Bytes(b)) if b.as_ref() == [1]));
    }

    #[test]
    fn documents_without_text_or_last_get_a_line_naming_them() {
        let mut documents = Documents::default();
        let a = ContentBlock::Document(sent(&mut documents, &document(Some("a.pdf"))));
        let b = ContentBlock::Document(sent(&mut documents, &document(Some("b.pdf"))));
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
