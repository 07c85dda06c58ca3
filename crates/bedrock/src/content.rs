//! Content blocks both ways: our turns into the SDK's `ContentBlock`s, and a Converse answer's
//! blocks back into [`ChatEvent`]s. JSON (tool input, schemas, extra fields) travels as the
//! SDK's `Document`.

use std::{
    borrow::Cow,
    hash::{DefaultHasher, Hash, Hasher},
};

use aws_sdk_bedrockruntime::{
    error::BuildError,
    primitives::Blob,
    types::{
        self as sdk, ContentBlock, ConversationRole, ReasoningContentBlock, ReasoningTextBlock,
        ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolUseBlock,
    },
};
use aws_smithy_types::{Document, Number};
use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde_json::Value;
use streambed_core::{
    Attachment, ChatEvent, Content, DocumentFormat, ErrorKind, Message, ProviderError, ReasoningBlock, Role,
    ToolResult,
};

use crate::attachments::{self, Attachments};

/// A builder refused a block: a required field was missing, which our types always set.
pub(crate) fn built<T>(result: Result<T, BuildError>) -> Result<T, ProviderError> {
    result.map_err(|e| {
        ProviderError::new(ErrorKind::InvalidRequest, format!("Could not build the Bedrock request: {e}"))
    })
}

pub(crate) fn to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(b) => Document::Bool(*b),
        Value::Number(n) => Document::Number(match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Number::PosInt(u),
            (None, Some(i)) => Number::NegInt(i),
            _ => Number::Float(n.as_f64().unwrap_or_default()),
        }),
        Value::String(s) => Document::String(s.clone()),
        Value::Array(items) => Document::Array(items.iter().map(to_document).collect()),
        Value::Object(map) => {
            Document::Object(map.iter().map(|(k, v)| (k.clone(), to_document(v))).collect())
        }
    }
}

pub(crate) fn to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(b) => Value::Bool(*b),
        Document::Number(Number::PosInt(u)) => Value::from(*u),
        Document::Number(Number::NegInt(i)) => Value::from(*i),
        Document::Number(Number::Float(f)) => Value::from(*f),
        Document::String(s) => Value::String(s.clone()),
        Document::Array(items) => Value::Array(items.iter().map(to_json).collect()),
        Document::Object(map) => Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect()),
    }
}

/// A turn in the order Claude takes its blocks: a user turn's tool results first ("Messages
/// following tool_use blocks must begin with a matching number of tool_result blocks"), and a
/// document other than a PDF sent beside them moved into the last result. Claude refuses such a
/// document beside a tool result, in words that blame a missing result ("`tool_use` ids were
/// found without `tool_result` blocks immediately after"; live calls in
/// pydantic/pydantic-ai#6098, where text, images and PDFs beside a result passed), and takes
/// one inside it. A PDF stays where the client put it: it may be the user's own, sent with a
/// new question. Any other turn is sent as it is.
pub(crate) fn arranged(turn: &Message) -> Cow<'_, Message> {
    let is_result = |c: &Content| matches!(c, Content::ToolResult(_));
    let results = turn.content.iter().filter(|c| is_result(c)).count();
    let refused_beside = |c: &Content| matches!(c, Content::Document(d) if d.format != DocumentFormat::Pdf);
    let in_order = turn.content.iter().take(results).all(is_result);
    if results == 0 || (in_order && !turn.content.iter().any(refused_beside)) {
        return Cow::Borrowed(turn);
    }
    let (mut content, rest): (Vec<Content>, Vec<Content>) = turn.content.iter().cloned().partition(is_result);
    let mut moved = Vec::new();
    for block in rest {
        match block {
            Content::Document(document) if document.format != DocumentFormat::Pdf => {
                moved.push(Attachment::Document(document));
            }
            other => content.push(other),
        }
    }
    if let Some(Content::ToolResult(last)) = content.get_mut(results - 1) {
        last.attachments.append(&mut moved);
    }
    Cow::Owned(Message { role: turn.role, content })
}

/// One of our turns, its images and documents sent as `attachments` (one per request) has them.
/// Blank text blocks are left out (Bedrock refuses them) unless nothing else is left, so the
/// error names the turn.
pub(crate) fn message(turn: &Message, attachments: &mut Attachments) -> Result<sdk::Message, ProviderError> {
    let role = match turn.role {
        Role::User => ConversationRole::User,
        Role::Assistant => ConversationRole::Assistant,
    };
    let blank = |c: &&Content| matches!(c, Content::Text(t) if t.trim().is_empty());
    let keep_blank = turn.content.iter().all(|c| blank(&c));
    let mut content = turn
        .content
        .iter()
        .filter(|c| keep_blank || !blank(c))
        .map(|c| block(c, attachments))
        .collect::<Result<_, _>>()?;
    attachments::with_text(&mut content);
    built(sdk::Message::builder().role(role).set_content(Some(content)).build())
}

fn block(content: &Content, attachments: &mut Attachments) -> Result<ContentBlock, ProviderError> {
    Ok(match content {
        Content::Document(document) => {
            attachments.document(document)?.or(ContentBlock::Document, ContentBlock::Text)
        }
        Content::Image(image) => attachments.image(image)?.or(ContentBlock::Image, ContentBlock::Text),
        Content::Text(text) => ContentBlock::Text(text.clone()),
        Content::Reasoning(ReasoningBlock::Text { text, signature }) => {
            ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(built(
                ReasoningTextBlock::builder().text(text).set_signature(signature.clone()).build(),
            )?))
        }
        Content::Reasoning(ReasoningBlock::Redacted { data }) => {
            let bytes = BASE64.decode(data).map_err(|e| {
                ProviderError::new(
                    ErrorKind::InvalidRequest,
                    format!("A redacted reasoning block is not base64: {e}"),
                )
            })?;
            ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(Blob::new(bytes)))
        }
        Content::ToolUse(call) => ContentBlock::ToolUse(built(
            ToolUseBlock::builder()
                .tool_use_id(tool_use_id(&call.id))
                .name(tool_name(&call.name)?)
                .input(to_document(&call.input))
                .build(),
        )?),
        Content::ToolResult(result) => ContentBlock::ToolResult(tool_result(result, attachments)?),
    })
}

/// A tool's result: its text, then the images and documents it returned, inside the result as
/// Anthropic's tool results carry them (one put beside the result instead would come before
/// the next result, where Claude wants tool results first). A result with images or documents
/// and no text is sent without a text part, which Converse takes.
fn tool_result(result: &ToolResult, attachments: &mut Attachments) -> Result<ToolResultBlock, ProviderError> {
    let text = !result.content.trim().is_empty() || result.attachments.is_empty();
    let mut content: Vec<ToolResultContentBlock> =
        text.then(|| ToolResultContentBlock::Text(tool_output(&result.content))).into_iter().collect();
    for attachment in &result.attachments {
        content.push(match attachment {
            Attachment::Image(image) => {
                attachments.image(image)?.or(ToolResultContentBlock::Image, ToolResultContentBlock::Text)
            }
            Attachment::Document(document) => attachments
                .document(document)?
                .or(ToolResultContentBlock::Document, ToolResultContentBlock::Text),
        });
    }
    built(
        ToolResultBlock::builder()
            .tool_use_id(tool_use_id(&result.tool_use_id))
            .set_content(Some(content))
            .set_status(result.is_error.then_some(ToolResultStatus::Error))
            .build(),
    )
}

/// Bedrock's longest tool name and tool-use id.
const MOST_CHARS: usize = 64;

/// `name` if Bedrock takes it as a tool's name (`[a-zA-Z0-9_-]{1,64}`), else a refusal naming
/// the rule: the model calls tools by these names, so one cannot be rewritten without the
/// client no longer knowing its own tool.
pub(crate) fn tool_name(name: &str) -> Result<&str, ProviderError> {
    if fits(name, |c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Ok(name);
    }
    Err(ProviderError::new(
        ErrorKind::InvalidRequest,
        format!(
            "The tool name `{name}` cannot be sent to Bedrock: tool names are 1 to {MOST_CHARS} letters, \
             digits, `_` or `-`."
        ),
    ))
}

/// `id` as Bedrock takes a tool-use id (`[a-zA-Z0-9_.:-]{1,64}`). Ids other APIs wrote may not
/// be (`call/1`, a long one): they are rewritten, the same way in the call and in its result,
/// so the two still pair. A rewritten id ends in a digest of the original (the same for the
/// same id within this process), so it never equals another id of the conversation, rewritten
/// or sent as it was (`call/1` and `call_1`). The model sees them only as a pairing.
fn tool_use_id(id: &str) -> Cow<'_, str> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-');
    if fits(id, allowed) {
        return Cow::Borrowed(id);
    }
    let mut digest = DefaultHasher::new();
    id.hash(&mut digest);
    // What is readable of it, then the digest: at most 46 + 1 + 16 characters.
    let readable: String = id.chars().take(46).map(|c| if allowed(c) { c } else { '_' }).collect();
    Cow::Owned(format!("{readable}_{:016x}", digest.finish()))
}

/// Whether `value` is 1 to [`MOST_CHARS`] characters, each `allowed`: Bedrock's rule for tool
/// names and tool-use ids, each with its own characters.
fn fits(value: &str, allowed: impl Fn(char) -> bool) -> bool {
    (1..=MOST_CHARS).contains(&value.len()) && value.chars().all(allowed)
}

/// What a tool printed, as a tool result's text. Bedrock refuses a blank text block, and a tool
/// that printed nothing (a command with no output) is common: it says so in words instead.
fn tool_output(content: &str) -> String {
    if content.trim().is_empty() { NO_OUTPUT.to_owned() } else { content.to_owned() }
}

const NO_OUTPUT: &str = "(no output)";

/// A Converse answer's blocks as the events a stream would have carried.
pub(crate) fn answer_events(blocks: &[ContentBlock]) -> Vec<ChatEvent> {
    let mut events = Vec::new();
    for block in blocks {
        match block {
            ContentBlock::Text(text) if !text.is_empty() => events.push(ChatEvent::Text(text.clone())),
            ContentBlock::ReasoningContent(ReasoningContentBlock::ReasoningText(reasoning)) => {
                events.push(ChatEvent::Reasoning(reasoning.text().to_owned()));
                events.extend(reasoning.signature().map(|s| ChatEvent::ReasoningSignature(s.to_owned())));
            }
            ContentBlock::ReasoningContent(ReasoningContentBlock::RedactedContent(blob)) => {
                events.push(ChatEvent::RedactedReasoning(BASE64.encode(blob.as_ref())));
            }
            ContentBlock::ToolUse(call) => {
                events.push(ChatEvent::ToolCall {
                    id: call.tool_use_id().to_owned(),
                    name: call.name().to_owned(),
                });
                events.push(ChatEvent::ToolInput(to_json(call.input()).to_string()));
            }
            _ => {}
        }
    }
    events
}

/// The tool names the conversation's tool-use blocks mention, first use first.
pub(crate) fn tool_names(turns: &[Message]) -> Vec<&str> {
    let mut names = Vec::new();
    for content in turns.iter().flat_map(|m| &m.content) {
        if let Content::ToolUse(call) = content
            && !names.contains(&call.name.as_str())
        {
            names.push(call.name.as_str());
        }
    }
    names
}

#[cfg(test)]
mod tests;
