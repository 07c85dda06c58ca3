//! What Bedrock and the Claude models refuse, with the ValidationException texts they send.
//!
//! Written from Anthropic's and AWS's documentation of each family (see `family.rs`); the texts
//! are the ones real Converse calls returned, as quoted in public bug reports (cited per rule).
//! Converse relays a model's own refusal after "The model returned the following errors: ".
//! Model ids the emulator does not know get only Bedrock's own checks.

use streambed_core::{Content, DocumentFormat, Message, ReasoningBlock, Role, Shown, ToolChoice};

use crate::{
    family::{Family, Model, ThinkingStyle},
    structured, thinking,
    wire::{BedrockError, Converse, Thinking},
};

const DOCS: &str = "https://docs.anthropic.com/en/docs/build-with-claude/extended-thinking";

/// Checks a parsed request against Bedrock and, when the model is known, against the model.
pub(crate) fn check(model: Option<&Model>, converse: &Converse) -> Result<(), BedrockError> {
    tool_config(converse)?;
    blank_text(converse)?;
    tool_descriptions(converse)?;
    tool_identifiers(converse)?;
    documents(converse)?;
    let Some(model) = model else { return Ok(()) };
    cache_point_after_document(converse)?;
    images_and_documents(converse)?;
    sampling(model.family, converse)?;
    thinking_config(model, converse)?;
    prefill(model.family, converse)?;
    structured_output(model, converse)?;
    tool_results(converse)?;
    tool_results_first(converse)?;
    blank_tool_results(converse)?;
    reasoning_history(converse)
}

/// Bedrock's own rule: no text block may be blank. Source: OpenHands/OpenHands#5339.
fn blank_text(converse: &Converse) -> Result<(), BedrockError> {
    for (i, message) in converse.request.messages.iter().enumerate() {
        for (j, block) in message.content.iter().enumerate() {
            if matches!(block, Content::Text(text) if text.trim().is_empty()) {
                return Err(BedrockError::validation(format!(
                    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. Add text to \
                     the text field, and try again."
                )));
            }
        }
    }
    Ok(())
}

/// Bedrock's own rules for documents (API reference: DocumentBlock, Message): a name of
/// letters, digits, single spaces, hyphens, parentheses and square brackets, unique in the
/// request; at most five documents of at most 4.5 MB; text beside a document in its message;
/// and images and documents from the user only. The texts of the name, duplicate, count and
/// text rules are real calls' (simonw/llm-bedrock#8, aws-samples/generative-ai-use-cases#1685,
/// BerriAI/litellm#36499); the reference states the others without quoting their errors, so
/// their texts are the emulator's.
fn documents(converse: &Converse) -> Result<(), BedrockError> {
    let refuse = |message: &str| Err(BedrockError::validation(message));
    for message in &converse.request.messages {
        if message.role == Role::Assistant && message.shown().next().is_some() {
            return refuse("You can only include images and documents if the role is user.");
        }
        let has_document = message.content.iter().any(|block| matches!(block, Content::Document(_)));
        if has_document && !message.content.iter().any(|block| matches!(block, Content::Text(_))) {
            return refuse(
                "A text block must be included when using documents. Add a text block and retry your request.",
            );
        }
    }
    let mut names = Vec::new();
    for document in converse.request.documents() {
        let name = document.name.as_deref().unwrap_or_default();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, ' ' | '-' | '(' | ')' | '[' | ']');
        if !(1..=200).contains(&name.chars().count()) || !name.chars().all(allowed) || name.contains("  ") {
            return refuse(
                "The document file name can only contain alphanumeric characters, whitespace characters, \
                 hyphens, parentheses, and square brackets. The name can't contain more than one consecutive \
                 whitespace character. Check that the file name conforms to these restrictions and retry your \
                 request.",
            );
        }
        if names.contains(&name) {
            return refuse("Messages can't contain duplicate document names.");
        }
        if document.data.len() > 4_500_000 {
            return refuse("A document's size must be no more than 4.5 MB.");
        }
        names.push(name);
    }
    if names.len() > 5 {
        return refuse("You can't include more than 5 documents in a request.");
    }
    Ok(())
}

/// Claude reads at most 20 images and documents in a request, in its words (cline/cline#1844).
fn images_and_documents(converse: &Converse) -> Result<(), BedrockError> {
    let shown = converse.request.messages.iter().flat_map(Message::shown);
    let (images, documents) = shown.fold((0, 0), |(images, documents), shown| match shown {
        Shown::Image(_) => (images + 1, documents),
        Shown::Document(_) => (images, documents + 1),
    });
    if images + documents > 20 {
        return Err(BedrockError::model_refused(format!(
            "too many images and documents: {images} + {documents} > 20"
        )));
    }
    Ok(())
}

/// Claude refuses a cache point right after a document, in Anthropic's words for the block it
/// cannot place. Source: aws-samples/amazon-bedrock-client-for-mac#119.
fn cache_point_after_document(converse: &Converse) -> Result<(), BedrockError> {
    match converse.cache_after_document {
        Some((i, j)) => {
            Err(BedrockError::model_refused(format!("messages.{i}.content.{j}.type: Field required")))
        }
        None => Ok(()),
    }
}

/// Bedrock's own length constraint on a tool's description (the field may be left out).
fn tool_descriptions(converse: &Converse) -> Result<(), BedrockError> {
    let empty = converse.request.tools.iter().position(|tool| tool.description.as_deref() == Some(""));
    match empty {
        Some(i) => Err(BedrockError::validation(format!(
            "1 validation error detected: Value at 'toolConfig.tools.{}.member.toolSpec.description' failed to \
             satisfy constraint: Member must have length greater than or equal to 1",
            i + 1
        ))),
        None => Ok(()),
    }
}

/// Bedrock's own patterns for a tool's name (`[a-zA-Z0-9_-]+`) and a tool-use id
/// (`[a-zA-Z0-9_.:-]+`), each 1 to 64 characters (API reference: ToolSpecification,
/// ToolUseBlock, ToolResultBlock), in the shape of its validation errors.
fn tool_identifiers(converse: &Converse) -> Result<(), BedrockError> {
    const NAME: &str = "[a-zA-Z0-9_-]+";
    const ID: &str = "[a-zA-Z0-9_.:-]+";
    let fits = |value: &str, extra: &str| {
        (1..=64).contains(&value.len())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || extra.contains(c))
    };
    let refuse = |value: &str, at: String, pattern: &str| {
        Err(BedrockError::validation(format!(
            "1 validation error detected: Value '{value}' at '{at}' failed to satisfy constraint: Member must \
             satisfy regular expression pattern: {pattern}"
        )))
    };
    for (i, tool) in converse.request.tools.iter().enumerate() {
        if !fits(&tool.name, "") {
            return refuse(&tool.name, format!("toolConfig.tools.{}.member.toolSpec.name", i + 1), NAME);
        }
    }
    for (i, message) in converse.request.messages.iter().enumerate() {
        for (j, block) in message.content.iter().enumerate() {
            let at = |field: &str| format!("messages.{}.member.content.{}.member.{field}", i + 1, j + 1);
            match block {
                Content::ToolUse(call) if !fits(&call.id, ".:") => {
                    return refuse(&call.id, at("toolUse.toolUseId"), ID);
                }
                Content::ToolUse(call) if !fits(&call.name, "") => {
                    return refuse(&call.name, at("toolUse.name"), NAME);
                }
                Content::ToolResult(result) if !fits(&result.tool_use_id, ".:") => {
                    return refuse(&result.tool_use_id, at("toolResult.toolUseId"), ID);
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Claude refuses a tool result whose text is blank. Source: NousResearch/hermes-agent#55092,
/// #63983. One that returned only images or documents needs no text (Anthropic's tool results
/// may hold an image alone).
fn blank_tool_results(converse: &Converse) -> Result<(), BedrockError> {
    let blank = |result: &streambed_core::ToolResult| {
        result.content.trim().is_empty() && result.attachments.is_empty()
    };
    let blank = converse
        .request
        .messages
        .iter()
        .flat_map(|m| &m.content)
        .any(|block| matches!(block, Content::ToolResult(result) if blank(result)));
    if blank {
        return Err(BedrockError::model_refused(
            "messages: text content blocks must contain non-whitespace text",
        ));
    }
    Ok(())
}

/// Claude's structured outputs: from Opus 4.1 and the 4.5 models on, and only schemas its grammar
/// can hold, with no numeric, length or size bounds and every object closed (Anthropic,
/// "Structured outputs", JSON Schema limitations). The texts are the emulator's own: no real
/// refusal was found quoted.
fn structured_output(model: &Model, converse: &Converse) -> Result<(), BedrockError> {
    let Some(output) = &converse.request.output_schema else { return Ok(()) };
    if !model.family.structured_outputs() {
        return Err(BedrockError::model_refused(format!(
            "output_config.format: structured outputs are not supported on '{}'.",
            model.name
        )));
    }
    match structured::refusal(&output.schema) {
        Some(why) => Err(BedrockError::model_refused(format!("output_config.format.schema: {why}"))),
        None => Ok(()),
    }
}

/// Bedrock's own rule. Source: langgenius/dify#16421, vercel/ai#7537.
fn tool_config(converse: &Converse) -> Result<(), BedrockError> {
    if !converse.tool_config && converse.request.uses_tools() {
        return Err(BedrockError::validation(
            "The toolConfig field must be defined when using toolUse and toolResult content blocks.",
        ));
    }
    Ok(())
}

fn sampling(family: Family, converse: &Converse) -> Result<(), BedrockError> {
    let params = &converse.request.params;
    if family.sampling_removed() {
        // Opus 4.7 refuses any non-default sampling value. Source: DayuanJiang/next-ai-draw-io#861,
        // tinovyatkin/amazon-bedrock-copilot-chat#546 (temperature); top_p and top_k by analogy.
        let removed = [
            ("temperature", params.temperature.is_some_and(|t| t != 1.0)),
            ("top_p", params.top_p.is_some_and(|p| p != 1.0)),
            ("top_k", params.top_k.is_some()),
        ];
        if let Some((name, _)) = removed.into_iter().find(|(_, sent)| *sent) {
            return Err(BedrockError::model_refused(format!("{name} is deprecated for this model.")));
        }
    }
    // From Opus 4.1 on. Source: skydiscover-ai/skydiscover#15 (Sonnet 4.6 on Bedrock),
    // anomalyco/opencode#1644 (Opus 4.1; "the same config works with the old Claude 4 Opus").
    if family.temperature_or_top_p() && params.temperature.is_some() && params.top_p.is_some() {
        return Err(BedrockError::model_refused(
            "`temperature` and `top_p` cannot both be specified for this model. Please use only one.",
        ));
    }
    Ok(())
}

fn thinking_config(model: &Model, converse: &Converse) -> Result<(), BedrockError> {
    let Some(asked) = converse.thinking.as_ref().filter(|t| **t != Thinking::Disabled) else { return Ok(()) };
    let style = model.family.thinking();
    let refused = |message: String| Err(BedrockError::model_refused(message));
    match (asked, style) {
        // Source: anthropics/claude-code#9627 and #2507 (Bedrock).
        (_, ThinkingStyle::None) => return refused(format!("'{}' does not support thinking.", model.name)),
        // Source: strands-agents/harness-sdk#1856 (ConverseStream, Sonnet 4.5).
        (Thinking::Other(tag), style) => {
            let tags = if style == ThinkingStyle::Budget {
                "'disabled', 'enabled'"
            } else {
                "'adaptive', 'disabled', 'enabled'"
            };
            return refused(format!(
                "thinking: Input tag '{tag}' found using 'type' does not match any of the expected tags: {tags}"
            ));
        }
        // Source: pensarai/apex#887 (Haiku 4.5 on Bedrock).
        (Thinking::Adaptive, ThinkingStyle::Budget) => {
            return refused("adaptive thinking is not supported on this model".into());
        }
        // Source: earendil-works/pi#7081 (Converse).
        (Thinking::Enabled { .. }, ThinkingStyle::Adaptive) => {
            return refused(
                "\"thinking.type.enabled\" is not supported for this model. Use \"thinking.type.adaptive\" and \
                 \"output_config.effort\" to control thinking behavior."
                    .into(),
            );
        }
        // Pydantic's wording, as for the minimum below.
        (Thinking::Enabled { budget_tokens: None }, _) => {
            return refused("thinking.enabled.budget_tokens: Field required".into());
        }
        // Source: danny-avila/LibreChat#8346 (Bedrock).
        (Thinking::Enabled { budget_tokens: Some(budget) }, _) if *budget < 1024 => {
            return refused(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024".into(),
            );
        }
        // Source: vercel/ai#7927 (Converse, Opus 4.1).
        (Thinking::Enabled { budget_tokens: Some(budget) }, _)
            if converse.request.params.max_tokens.is_some_and(|max| u64::from(max) <= *budget) =>
        {
            return refused(format!(
                "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation at \
                 {DOCS}#max-tokens-and-context-window-size"
            ));
        }
        _ => {}
    }
    let params = &converse.request.params;
    // Source: dotCipher/opencode-claude-bridge#1 (Sonnet 4.6, adaptive); Aider-AI/aider#3720 and
    // BerriAI/litellm#9524 show the same refusal through Bedrock before adaptive thinking existed.
    if params.temperature.is_some_and(|t| t != 1.0) {
        return refused(
            "temperature may only be set to 1 when thinking is enabled or in adaptive mode".into(),
        );
    }
    // Source: danny-avila/LibreChat#6023, quarkiverse/quarkus-langchain4j#1812 (Anthropic API);
    // the Bedrock form follows n8n-io/n8n#14288 ("top_p must be unset when thinking is enabled.").
    if params.top_k.is_some() {
        return refused("top_k must be unset when thinking is enabled.".into());
    }
    // Source: workglow-dev/libs#746, can1357/oh-my-pi#333 (Bedrock).
    if matches!(converse.request.tool_choice, ToolChoice::Any | ToolChoice::Tool(_)) {
        return refused("Thinking may not be enabled when tool_choice forces tool use.".into());
    }
    Ok(())
}

/// Source: anomalyco/opencode#29760 (Opus 4.6 on Bedrock).
fn prefill(family: Family, converse: &Converse) -> Result<(), BedrockError> {
    if !family.prefill() && converse.request.messages.last().is_some_and(|m| m.role == Role::Assistant) {
        return Err(BedrockError::model_refused(
            "This model does not support assistant message prefill. The conversation must end with a user message.",
        ));
    }
    Ok(())
}

/// Every tool result answers a call of the turn before. Source: anthropics/claude-code#13460.
fn tool_results(converse: &Converse) -> Result<(), BedrockError> {
    let messages = &converse.request.messages;
    for (i, message) in messages.iter().enumerate().skip(1) {
        let before = &messages[i - 1];
        for (j, block) in message.content.iter().enumerate() {
            let Content::ToolResult(result) = block else { continue };
            let called =
                before.content.iter().any(|c| matches!(c, Content::ToolUse(u) if u.id == result.tool_use_id));
            if !called {
                return Err(BedrockError::model_refused(format!(
                    "messages.{i}.content.{j}: unexpected `tool_use_id` found in `tool_result` blocks: {}. Each \
                     `tool_result` block must have a corresponding `tool_use` block in the previous message.",
                    result.tool_use_id
                )));
            }
        }
    }
    Ok(())
}

/// Every tool call is answered in the next message, which begins with the results, one per call.
/// Claude's words when a call has no result there (anthropics/claude-code#1577) and when the
/// results are not first (apify/tester-mcp-client#12). Bedrock also refuses a document other
/// than a PDF beside a tool result, in the first words: live calls in pydantic/pydantic-ai#6098,
/// where text, images and PDFs beside a result passed.
fn tool_results_first(converse: &Converse) -> Result<(), BedrockError> {
    let messages = &converse.request.messages;
    for (i, pair) in messages.windows(2).enumerate() {
        let [asked, answer] = pair else { continue };
        let calls: Vec<&str> = asked
            .content
            .iter()
            .filter_map(|c| match c {
                Content::ToolUse(call) => Some(call.id.as_str()),
                _ => None,
            })
            .collect();
        if calls.is_empty() {
            continue;
        }
        let answered = |id: &str| {
            answer.content.iter().any(|c| matches!(c, Content::ToolResult(r) if r.tool_use_id == id))
        };
        let unanswered: Vec<&str> = calls.iter().copied().filter(|id| !answered(id)).collect();
        let beside = |c: &Content| matches!(c, Content::Document(d) if d.format != DocumentFormat::Pdf);
        if !unanswered.is_empty() || answer.content.iter().any(beside) {
            let ids = if unanswered.is_empty() { calls.join(", ") } else { unanswered.join(", ") };
            return Err(BedrockError::model_refused(format!(
                "messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately after: {ids}. \
                 Each `tool_use` block must have a corresponding `tool_result` block in the next message."
            )));
        }
        let first = answer.content.iter().take_while(|c| matches!(c, Content::ToolResult(_))).count();
        if first < calls.len() {
            return Err(BedrockError::model_refused(format!(
                "messages.{}: Did not find {} `tool_result` block(s) at the beginning of this message. Messages \
                 following `tool_use` blocks must begin with a matching number of `tool_result` blocks.",
                i + 1,
                calls.len()
            )));
        }
    }
    Ok(())
}

/// Reasoning sent back must be exactly what the model produced, and with thinking on, the
/// assistant turn a tool result answers must start with it.
fn reasoning_history(converse: &Converse) -> Result<(), BedrockError> {
    let messages = &converse.request.messages;
    for (i, message) in messages.iter().enumerate().filter(|(_, m)| m.role == Role::Assistant) {
        for (j, block) in message.content.iter().enumerate() {
            let Content::Reasoning(ReasoningBlock::Text { text, signature }) = block else { continue };
            match signature {
                // Source: can1357/oh-my-pi#10486 (Bedrock).
                None => {
                    return Err(BedrockError::model_refused(format!(
                        "messages.{i}.content.{j}.thinking.signature: Field required"
                    )));
                }
                // Source: anthropics/claude-code#10627, chenhg5/cc-connect#897 (Bedrock).
                Some(signature) if !thinking::verify(text, signature) => {
                    return Err(BedrockError::model_refused(format!(
                        "messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                    )));
                }
                Some(_) => {}
            }
        }
    }
    if !converse.thinking.as_ref().is_some_and(Thinking::is_on) {
        return Ok(());
    }
    // Source: tinovyatkin/amazon-bedrock-copilot-chat#245 (Converse).
    let answers_tool =
        messages.last().is_some_and(|m| m.content.iter().any(|c| matches!(c, Content::ToolResult(_))));
    let Some(i) = messages.len().checked_sub(2).filter(|_| answers_tool) else { return Ok(()) };
    let found = match messages[i].content.first() {
        Some(Content::Reasoning(_)) => return Ok(()),
        Some(Content::ToolUse(_)) => "tool_use",
        _ => "text",
    };
    Err(BedrockError::model_refused(format!(
        "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{found}`. When \
         `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the \
         lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from \
         previous turns. To avoid this requirement, disable `thinking`. Please consult our documentation at \
         https://docs.claude.com/en/docs/build-with-claude/extended-thinking"
    )))
}

#[cfg(test)]
mod tests;
