//! A message's content blocks, as a Messages API client sends them, into the neutral content:
//! text, images and documents (inline only), tool calls and results, reasoning; and the
//! `cache_control` marks on them. Pure, as the rest of the translation.

use serde_json::Value;
use streambed_core::{
    Attachment, Content, Document, DocumentFormat, Image, ReasoningBlock, ToolResult, ToolUse,
};

use super::wire;
use crate::routes::attachment;

/// Whether the client marked any part of its prompt with `cache_control`. Converse places its
/// cache points differently (see `BEDROCK_PROMPT_CACHE`): the request is cached as the server
/// caches any, not at the marks.
pub(super) fn marks_cache(body: &wire::MessagesRequest) -> bool {
    let system = match &body.system {
        Some(wire::Blocks::Blocks(blocks)) => {
            blocks.iter().any(|wire::SystemBlock::Text { cache_control, .. }| cache_control.is_some())
        }
        _ => false,
    };
    let top = body.cache_control.as_ref().is_some_and(|mark| !mark.is_null());
    let tools = body.tools.iter().flatten().any(|tool| tool.cache_control.is_some());
    let messages = body.messages.iter().any(|message| match &message.content {
        wire::Blocks::Blocks(blocks) => blocks.iter().any(|block| {
            matches!(
                block,
                wire::InputBlock::Text { cache_control: Some(_), .. }
                    | wire::InputBlock::ToolUse { cache_control: Some(_), .. }
                    | wire::InputBlock::ToolResult { cache_control: Some(_), .. }
                    | wire::InputBlock::Document(wire::DocumentBlock { cache_control: Some(_), .. })
            )
        }),
        wire::Blocks::Text(_) => false,
    });
    top || system || tools || messages
}

/// A `system` message's text: a string or text blocks.
pub(super) fn system_text(content: wire::Blocks<wire::InputBlock>) -> Result<String, String> {
    match content {
        wire::Blocks::Text(text) => Ok(text),
        wire::Blocks::Blocks(blocks) => blocks
            .into_iter()
            .map(|block| match block {
                wire::InputBlock::Text { text, .. } => Ok(text),
                _ => Err("a `system` message takes text blocks only.".to_owned()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(|texts| texts.join("\n\n")),
    }
}

/// A block of a message in the neutral content.
pub(super) fn block(block: wire::InputBlock) -> Result<Content, String> {
    Ok(match block {
        wire::InputBlock::Text { text, .. } => Content::Text(text),
        wire::InputBlock::Image { source } => Content::Image(image(source)?),
        wire::InputBlock::Document(block) => Content::Document(document(block)?),
        wire::InputBlock::ToolUse { id, name, input, .. } => {
            Content::ToolUse(ToolUse { id, name, input: Value::Object(input) })
        }
        wire::InputBlock::ToolResult { tool_use_id, content, is_error, .. } => {
            let (mut texts, mut attachments) = (Vec::new(), Vec::new());
            match content {
                None => {}
                Some(wire::Blocks::Text(text)) => texts.push(text),
                Some(wire::Blocks::Blocks(blocks)) => {
                    for block in blocks {
                        match block {
                            wire::ResultBlock::Text { text } => texts.push(text),
                            wire::ResultBlock::Image { source } => {
                                attachments.push(Attachment::Image(image(source)?))
                            }
                            wire::ResultBlock::Document(block) => {
                                attachments.push(Attachment::Document(document(block)?))
                            }
                        }
                    }
                }
            }
            let is_error = is_error.unwrap_or(false);
            Content::ToolResult(ToolResult { tool_use_id, content: texts.join("\n"), attachments, is_error })
        }
        wire::InputBlock::Thinking { thinking, signature } => {
            Content::Reasoning(ReasoningBlock::Text { text: thinking, signature })
        }
        wire::InputBlock::RedactedThinking { data } => Content::Reasoning(ReasoningBlock::Redacted { data }),
    })
}

/// An image given inline. One elsewhere is refused: this server fetches nothing for a client.
fn image(source: wire::ImageSource) -> Result<Image, String> {
    let (media_type, data) = match (source.kind.as_str(), source.media_type, source.data) {
        ("base64", Some(media_type), Some(data)) => (media_type, data),
        ("base64", ..) => return Err("An inline image needs its `media_type` and its `data`.".into()),
        (kind, ..) => {
            return Err(format!(
                "An image is taken inline only (`source.type: base64`, not `{kind}`): this server fetches \
                 no URL or file."
            ));
        }
    };
    attachment::image(&media_type, &data).map_err(|bad| format!("An image's `source` {bad}."))
}

/// A document given inline: a file in base64, plain text, or text blocks. One elsewhere is
/// refused, as an image is. Citations are refused by name: the answer would come without them.
fn document(block: wire::DocumentBlock) -> Result<Document, String> {
    if block.citations.is_some_and(|c| c.enabled == Some(true)) {
        return Err(
            "Citations are not supported by this server: send the document without `citations`.".into()
        );
    }
    let wire::DocumentSource { kind, media_type, data, content } = block.source;
    let text = |text: String| {
        attachment::document_of(DocumentFormat::Txt, text.into_bytes())
            .map_err(|bad| format!("A document's text {bad}: it must hold some content."))
    };
    let mut document = match (kind.as_str(), media_type, data, content) {
        ("base64", Some(media_type), Some(data), _) => attachment::document_format(&media_type)
            .and_then(|format| attachment::document(format, &data))
            .map_err(|bad| format!("A document's `source` {bad}."))?,
        ("base64", ..) => return Err("An inline document needs its `media_type` and its `data`.".into()),
        ("text", _, Some(data), _) => text(data)?,
        ("text", ..) => return Err("A `text` document source needs its `data`.".into()),
        ("content", _, _, Some(wire::Blocks::Text(data))) => text(data)?,
        ("content", _, _, Some(wire::Blocks::Blocks(blocks))) => {
            let texts = blocks.into_iter().map(|block| match block {
                wire::SourceBlock::Text { text } => Ok(text),
                wire::SourceBlock::Image {} => {
                    Err("A `content` document takes text blocks only: send its images as image blocks.")
                }
            });
            text(texts.collect::<Result<Vec<_>, _>>()?.join("\n\n"))?
        }
        ("content", ..) => return Err("A `content` document source needs its `content`.".into()),
        (kind, ..) => {
            return Err(format!(
                "A document is taken inline only (`source.type` `base64`, `text` or `content`, not `{kind}`): \
                 this server fetches no URL or file."
            ));
        }
    };
    document.name = block.title;
    document.context = block.context;
    Ok(document)
}
