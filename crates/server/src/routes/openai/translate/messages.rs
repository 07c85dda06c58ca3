//! OpenAI's `messages` as the neutral conversation: the system prompt apart, and turns that
//! alternate as Converse wants them.

use serde_json::{Value, json};
use streambed_core::{Content, Document, DocumentFormat, Image, Message, Role, ToolResult, ToolUse};

use crate::routes::{
    attachment,
    openai::{
        error::Invalid,
        wire::{self, FilePart, InContent, InMessage},
    },
    turns::Turns,
};

/// System and developer messages, joined, and the turns: a tool message is a tool result in a
/// user turn, an assistant message that says nothing is left out, and consecutive messages of
/// one side (several tool results, or tool results then
/// the user's text) make one turn, as Converse wants turns to alternate.
pub(super) fn conversation(messages: Vec<InMessage>) -> Result<(Option<String>, Turns), Invalid> {
    let mut system = Vec::new();
    let mut turns: Vec<Message> = Vec::new();
    for (i, message) in messages.into_iter().enumerate() {
        let (role, blocks) = match message {
            InMessage::System { content } | InMessage::Developer { content } => {
                system.push(text(content, i)?);
                continue;
            }
            InMessage::User { content } => {
                let blocks = user_blocks(content, i)?;
                if blocks.is_empty() {
                    return Err(Invalid::param(
                        "messages",
                        format!("`messages[{i}].content` must not be empty."),
                    ));
                }
                (Role::User, blocks)
            }
            InMessage::Assistant { function_call: Some(_), .. } | InMessage::Function {} => {
                return Err(Invalid::param(
                    "messages",
                    format!(
                        "`messages[{i}]` uses OpenAI's deprecated function calling: send the call in \
                         the assistant's `tool_calls` and its result as a `tool` message with its \
                         `tool_call_id`."
                    ),
                ));
            }
            InMessage::Assistant { content, tool_calls, function_call: None } => {
                let blocks = assistant(content, tool_calls, i)?;
                // An assistant message that said nothing (OpenAI takes `""`, which an app may keep
                // for an answer that failed) has nothing to send: Converse refuses blank text.
                if blocks.is_empty() {
                    continue;
                }
                (Role::Assistant, blocks)
            }
            InMessage::Tool { content, tool_call_id } => {
                let result = ToolResult::text(tool_call_id, text(content, i)?, false);
                (Role::User, vec![Content::ToolResult(result)])
            }
        };
        turns.push(Message { role, content: blocks });
    }
    let turns = Turns::new(turns).map_err(|_| {
        Invalid::param("messages", "The last message must have the role `user` or `tool`.".into())
    })?;
    let system = system.into_iter().filter(|s| !s.trim().is_empty()).collect::<Vec<_>>();
    Ok(((!system.is_empty()).then(|| system.join("\n\n")), turns))
}

fn assistant(
    content: Option<InContent>,
    tool_calls: Option<Vec<wire::InToolCall>>,
    i: usize,
) -> Result<Vec<Content>, Invalid> {
    let mut blocks = Vec::new();
    if let Some(content) = content {
        let text = text(content, i)?;
        // Converse refuses blank text blocks; an assistant that only called tools sends "".
        if !text.trim().is_empty() {
            blocks.push(Content::Text(text));
        }
    }
    for (j, call) in tool_calls.unwrap_or_default().into_iter().enumerate() {
        let arguments = call.function.arguments.trim();
        let input =
            if arguments.is_empty() { Ok(json!({})) } else { serde_json::from_str::<Value>(arguments) };
        let input = input.ok().filter(Value::is_object).ok_or_else(|| {
            Invalid::param(
                "messages",
                format!("`messages[{i}].tool_calls[{j}].function.arguments` must be a JSON object as text."),
            )
        })?;
        blocks.push(Content::ToolUse(ToolUse { id: call.id, name: call.function.name, input }));
    }
    Ok(blocks)
}

/// A user message's blocks: its text (parts joined by newlines, as [`text`] joins them), its
/// images and its files, in order. Converse refuses blank text, so a part that says nothing is left out.
fn user_blocks(content: InContent, i: usize) -> Result<Vec<Content>, Invalid> {
    let parts = match content {
        InContent::Text(text) if text.trim().is_empty() => return Ok(Vec::new()),
        InContent::Text(text) => return Ok(vec![Content::Text(text)]),
        InContent::Parts(parts) => parts,
    };
    let mut blocks: Vec<Content> = Vec::with_capacity(parts.len());
    for (j, part) in parts.into_iter().enumerate() {
        match (part.kind.as_str(), part.text, part.image_url, part.file) {
            ("text", Some(text), ..) => match blocks.last_mut() {
                Some(Content::Text(before)) => {
                    before.push('\n');
                    before.push_str(&text);
                }
                _ => blocks.push(Content::Text(text)),
            },
            ("image_url", _, Some(image), _) => blocks.push(Content::Image(data_url(&image.url, i, j)?)),
            ("file", .., Some(file)) => blocks.push(Content::Document(file_data(file, i, j)?)),
            (kind @ ("text" | "image_url" | "file"), ..) => return Err(part_without_its_field(kind, i, j)),
            (kind, ..) => return Err(unsupported_part(kind, i, j)),
        }
    }
    blocks.retain(|block| !matches!(block, Content::Text(text) if text.trim().is_empty()));
    Ok(blocks)
}

/// The image of a `data:` URL (`data:image/png;base64,…`). A web URL is refused: this server
/// fetches nothing for a client.
fn data_url(url: &str, i: usize, j: usize) -> Result<Image, Invalid> {
    let at = format!("`messages[{i}].content[{j}].image_url.url`");
    let invalid = |why: String| Invalid::param("messages", format!("{at} {why}"));
    let Some((media_type, data)) = url.strip_prefix("data:").and_then(|rest| rest.split_once(";base64,"))
    else {
        return Err(invalid(
            "must be a `data:` URL with the image in base64: this server fetches no URL.".into(),
        ));
    };
    attachment::image(media_type, data).map_err(|bad| invalid(format!("{bad}.")))
}

/// The document of a `file` part: `file_data` as a `data:` URL (`data:application/pdf;base64,…`,
/// as OpenAI's guide sends it) or as plain base64 whose format the file name's extension gives.
/// A `file_id` is refused: this server keeps no uploaded files.
fn file_data(file: FilePart, i: usize, j: usize) -> Result<Document, Invalid> {
    let at = format!("`messages[{i}].content[{j}].file`");
    let invalid = |why: String| Invalid::param("messages", format!("{at} {why}"));
    let Some(data) = file.file_data else {
        return Err(invalid(if file.file_id.is_some() {
            "names a `file_id`: this server keeps no uploaded files, so send the file in `file_data`.".into()
        } else {
            "needs its `file_data`: the file in base64, or as a `data:` URL.".into()
        }));
    };
    // The file name's extension says the format where the media type says nothing (a generic
    // `application/octet-stream`, or plain base64); a media type that names another format is
    // believed over the name, and refused as that format.
    let named = file.filename.as_deref().and_then(DocumentFormat::from_file_name);
    let (format, base64) = match data.strip_prefix("data:") {
        Some(url) => {
            let Some((media_type, base64)) = url.split_once(";base64,") else {
                return Err(invalid("is a `data:` URL without `;base64,`: send the file in base64.".into()));
            };
            let format = match named {
                Some(format) if DocumentFormat::says_nothing(media_type) => Ok(format),
                _ => attachment::document_format(media_type),
            };
            (format, base64)
        }
        None => match named {
            Some(format) => (Ok(format), data.as_str()),
            None => {
                return Err(invalid(format!(
                    "needs its format: `file_data` as a `data:` URL with its media type, or a `filename` \
                     ending in the extension of a document the models read ({}).",
                    DocumentFormat::NAMES
                )));
            }
        },
    };
    let mut document = format
        .and_then(|format| attachment::document(format, base64))
        .map_err(|bad| invalid(format!("`file_data` {bad}.")))?;
    document.name = file.filename;
    Ok(document)
}

/// The text of a message: a string, or its text parts joined by newlines.
fn text(content: InContent, i: usize) -> Result<String, Invalid> {
    match content {
        InContent::Text(text) => Ok(text),
        InContent::Parts(parts) => {
            let texts =
                parts.into_iter().enumerate().map(|(j, part)| match (part.kind.as_str(), part.text) {
                    ("text", Some(text)) => Ok(text),
                    ("text", None) => Err(part_without_its_field("text", i, j)),
                    (kind, _) => Err(unsupported_part(kind, i, j)),
                });
            Ok(texts.collect::<Result<Vec<_>, _>>()?.join("\n"))
        }
    }
}

/// A known part without the field its type names (`{"type": "file"}` with no `file`).
fn part_without_its_field(kind: &str, i: usize, j: usize) -> Invalid {
    Invalid::param(
        "messages",
        format!("`messages[{i}].content[{j}]` is a `{kind}` part without its `{kind}` field."),
    )
}

/// A part this server does not take where it was sent: images and files go in user messages
/// only.
fn unsupported_part(kind: &str, i: usize, j: usize) -> Invalid {
    Invalid::param(
        "messages",
        format!(
            "`messages[{i}].content[{j}]` is a `{kind}` part: this server takes text parts, and \
             `image_url` and `file` parts in user messages (`{{\"type\": \"text\", \"text\": …}}`)."
        ),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What a `file` part becomes: a document, or the refusal's message.
    fn file(file: serde_json::Value) -> Result<Document, String> {
        let part: wire::FilePart = serde_json::from_value(file).unwrap();
        file_data(part, 0, 1).map_err(|invalid| invalid.message)
    }

    #[test]
    fn a_file_part_takes_what_clients_send_and_says_what_it_cannot() {
        let pdf = file(
            json!({ "file_data": "data:application/octet-stream;base64,JVBE\nRi0=", "filename": "a.pdf" }),
        )
        .unwrap();
        assert_eq!(
            (pdf.format, pdf.data.as_slice(), pdf.name.as_deref()),
            (DocumentFormat::Pdf, &b"%PDF-"[..], Some("a.pdf"))
        );
        let named = file(
            json!({ "file_data": "data:binary/octet-stream; name=a.csv;base64,YSxi", "filename": "a.csv" }),
        );
        assert_eq!(named.unwrap().format, DocumentFormat::Csv, "S3's generic type, with a parameter");
        let md = file(json!({ "file_data": "data:text/x-markdown;base64,IyBI" })).unwrap();
        assert_eq!(md.format, DocumentFormat::Md);

        for (sent, says) in [
            (json!({ "file_data": "data:text/plain,hello" }), "without `;base64,`"),
            (json!({ "file_data": "data:text/plain;base64,ICAK" }), "holds only white space"),
            (
                json!({ "file_data": "data:text/plain;base64,a:b" }),
                "is not base64 (Invalid symbol 58, offset 1).",
            ),
            (json!({ "file_data": "IyBI" }), "needs its format"),
            (json!({ "file_data": "data:application/zip;base64,UEs=" }), "not a document the models read"),
            (json!({ "file_id": "file-1" }), "keeps no uploaded files"),
            (
                json!({ "file_data": "data:image/png;base64,iVBO", "filename": "a.pdf" }),
                "not a document the models read",
            ),
        ] {
            let refused = file(sent.clone()).unwrap_err();
            assert!(refused.contains(says), "{sent}: {refused}");
        }
    }

    #[test]
    fn a_part_without_its_field_says_so() {
        for kind in ["text", "image_url", "file"] {
            let content: InContent = serde_json::from_value(json!([{ "type": kind }])).unwrap();
            let refused = user_blocks(content, 0).unwrap_err();
            assert!(
                refused.message.contains(&format!("a `{kind}` part without its `{kind}` field")),
                "{}",
                refused.message
            );
        }
    }

    #[test]
    fn roles_become_a_system_prompt_and_alternating_turns() {
        let messages: Vec<InMessage> = serde_json::from_value(json!([
            { "role": "system", "content": "Be brief." },
            { "role": "developer", "content": [{ "type": "text", "text": "Use French." }] },
            { "role": "user", "content": [{ "type": "text", "text": "Weather" }, { "type": "text", "text": "in Paris?" }] },
            { "role": "assistant", "content": null, "tool_calls": [
                { "id": "c1", "type": "function", "function": { "name": "weather", "arguments": "{\"city\":\"Paris\"}" } },
                { "id": "c2", "type": "function", "function": { "name": "time", "arguments": "" } }
            ] },
            { "role": "tool", "tool_call_id": "c1", "content": "Sunny" },
            { "role": "tool", "tool_call_id": "c2", "content": [{ "type": "text", "text": "noon" }] },
        ]))
        .unwrap();

        let (system, messages) = conversation(messages).unwrap();

        assert_eq!(system.as_deref(), Some("Be brief.\n\nUse French."));
        assert_eq!(messages.len(), 3, "the two tool results are one user turn");
        assert_eq!(messages[0], Message::user("Weather\nin Paris?"));
        assert_eq!(
            messages[1].content[0],
            Content::ToolUse(ToolUse {
                id: "c1".into(),
                name: "weather".into(),
                input: json!({ "city": "Paris" })
            })
        );
        assert_eq!(
            messages[1].content[1],
            Content::ToolUse(ToolUse { id: "c2".into(), name: "time".into(), input: json!({}) })
        );
        assert_eq!(
            messages[2],
            Message {
                role: Role::User,
                content: vec![
                    Content::ToolResult(ToolResult::text("c1", "Sunny", false)),
                    Content::ToolResult(ToolResult::text("c2", "noon", false)),
                ],
            }
        );
    }

    #[test]
    fn an_assistant_message_that_says_nothing_is_left_out() {
        let messages: Vec<InMessage> = serde_json::from_value(json!([
            { "role": "user", "content": "Hi" },
            { "role": "assistant", "content": "" },
            { "role": "user", "content": "Hello?" },
        ]))
        .unwrap();

        let (_, messages) = conversation(messages).unwrap();

        assert_eq!(messages.len(), 1, "the user's two messages make one turn: {messages:?}");
        assert_eq!(messages[0].role, Role::User);
    }
}
