use serde_json::json;
use streambed_core::{Content, InferenceParams, Message as Turn, Reasoning, ToolUse};

use super::*;
use crate::{
    content::to_json,
    tools::tests::{used_tool, weather},
};

const SONNET_45: &str = "us.anthropic.claude-sonnet-4-5-20250929-v1:0";

fn pdf(name: &str) -> Content {
    let format = streambed_core::DocumentFormat::Pdf;
    Content::Document(streambed_core::Document {
        format,
        name: Some(name.into()),
        context: None,
        data: vec![1],
    })
}

/// The documents' names across the whole conversation are Bedrock's, each given once; a turn
/// that ends with one gets text after it, so the turn's cache point follows text.
#[test]
fn documents_are_named_once_per_request_and_never_end_a_cached_turn() {
    let request = ChatRequest::new(vec![
        Turn { role: Role::User, content: vec![Content::Text("Summarise".into()), pdf("report.pdf")] },
        Turn::assistant("It says…"),
        Turn { role: Role::User, content: vec![pdf("report.pdf"), Content::Text("And this?".into())] },
    ]);
    let mut target = Target::new(SONNET_45);
    target.prompt_cache = true;
    let parts = build(&request, target).unwrap();

    let first = parts.messages[0].content();
    let ContentBlock::Document(named) = &first[1] else { panic!("{first:?}") };
    assert_eq!(named.name(), "report");
    assert_eq!(first[2], ContentBlock::Text("(Attached: report.)".into()));
    assert!(matches!(first[3], ContentBlock::CachePoint(_)), "{first:?}");
    let last = parts.messages[2].content();
    let ContentBlock::Document(again) = &last[0] else { panic!("{last:?}") };
    assert_eq!(again.name(), "report (2)");
    assert_eq!(last.len(), 3, "the question already follows the document: {last:?}");

    let mut from_assistant = request.clone();
    from_assistant.messages[1].content.push(pdf("mine.pdf"));
    let refused = build(&from_assistant, Target::new(SONNET_45)).unwrap_err();
    assert!(refused.message.contains("user turns only: turn 2 of"), "{}", refused.message);
    let micro = build(&request, Target::new("amazon.nova-micro-v1:0")).unwrap_err();
    assert!(micro.message.contains("does not read documents"), "{}", micro.message);
}

/// Bedrock reads at most five documents in a request: past that, the oldest are left out
/// with a line in their place, so a conversation that read a sixth still goes on; six sent
/// with the question itself are refused.
#[test]
fn past_five_documents_the_oldest_are_left_out_and_six_in_the_last_turn_are_refused() {
    let old = Turn { role: Role::User, content: vec![pdf("old.pdf"), Content::Text("Read".into())] };
    let mut newer = vec![Content::Text("And these".into())];
    newer.extend((0..5).map(|i| pdf(&format!("{i}.pdf"))));
    let mut request =
        ChatRequest::new(vec![old, Turn::assistant("Done."), Turn { role: Role::User, content: newer }]);

    let parts = build(&request, Target::new(SONNET_45)).unwrap();
    request.messages[2].content.push(pdf("5.pdf"));
    let six = build(&request, Target::new(SONNET_45)).unwrap_err();

    let first = parts.messages[0].content();
    let ContentBlock::Text(note) = &first[0] else { panic!("{first:?}") };
    assert!(note.contains("\"old\" was attached here") && note.contains("at most 5"), "{note}");
    let sent = parts.messages.iter().flat_map(|m| m.content()).filter(|b| b.is_document()).count();
    assert_eq!(sent, 5);
    assert_eq!(six.kind, ErrorKind::InvalidRequest);
    assert!(six.message.contains("the last user turn holds 6"), "{}", six.message);
}

/// The limits are about what the client asks with: a prefilled answer after the question
/// does not make its documents old.
#[test]
fn the_limits_look_at_the_last_user_turn_past_a_prefill() {
    let mut question = vec![Content::Text("Read these".into())];
    question.extend((0..6).map(|i| pdf(&format!("{i}.pdf"))));
    let prefilled = vec![Turn { role: Role::User, content: question }, Turn::assistant("Summary:")];

    let refused = build(&ChatRequest::new(prefilled), Target::new(SONNET_45)).unwrap_err();

    assert!(refused.message.contains("the last user turn holds 6"), "{}", refused.message);
}

/// A document keeps its name when older ones leave the window, so the model's earlier
/// answers still mean the same document by it.
#[test]
fn names_stay_when_the_oldest_documents_are_left_out() {
    let read = |i: usize| Turn {
        role: Role::User,
        content: vec![pdf("report.pdf"), Content::Text(format!("Read {i}"))],
    };
    let names = |turns: &[Turn]| -> Vec<String> {
        let parts = build(&ChatRequest::new(turns.to_vec()), Target::new(SONNET_45)).unwrap();
        let blocks = parts.messages.iter().flat_map(|m| m.content().to_vec());
        blocks
            .map(|block| match block {
                ContentBlock::Document(d) => d.name().to_owned(),
                ContentBlock::Text(t) if t.contains("was attached here") => "left out".to_owned(),
                _ => String::new(),
            })
            .filter(|name| !name.is_empty())
            .collect()
    };
    let mut turns = vec![read(0)];
    for i in 1..5 {
        turns.extend([Turn::assistant("Read."), read(i)]);
    }
    let five = names(&turns);
    turns.extend([Turn::assistant("Read."), read(5)]);
    let six = names(&turns);

    assert_eq!(five, ["report", "report (2)", "report (3)", "report (4)", "report (5)"]);
    assert_eq!(six, ["left out", "report (2)", "report (3)", "report (4)", "report (5)", "report (6)"]);
}

/// A tool's result leads its turn, and a document other than a PDF sent beside the results
/// goes into the last of them.
#[test]
fn tool_results_come_first_with_documents_beside_them_inside() {
    use aws_sdk_bedrockruntime::types::ToolResultContentBlock;
    let call =
        |id: &str| Content::ToolUse(ToolUse { id: id.into(), name: "weather".into(), input: json!({}) });
    let result = |id: &str| Content::ToolResult(streambed_core::ToolResult::text(id, "sunny", false));
    let notes = Content::Document(streambed_core::Document {
        format: streambed_core::DocumentFormat::Txt,
        name: Some("notes.txt".into()),
        context: None,
        data: b"hi".to_vec(),
    });
    let mut request = ChatRequest::new(vec![
        Turn::user("Weather?"),
        Turn { role: Role::Assistant, content: vec![call("t1"), call("t2")] },
        Turn {
            role: Role::User,
            content: vec![Content::Text("Here:".into()), result("t1"), notes, pdf("mine.pdf"), result("t2")],
        },
    ]);
    request.tools = vec![weather()];

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    let [
        ContentBlock::ToolResult(first),
        ContentBlock::ToolResult(second),
        ContentBlock::Text(text),
        ContentBlock::Document(mine),
        ContentBlock::Text(line),
    ] = parts.messages[2].content()
    else {
        panic!("{:?}", parts.messages[2])
    };
    assert_eq!(mine.name(), "mine", "a PDF, which Claude takes beside results, stays the client's");
    assert_eq!(line, "(Attached: notes, mine.)");
    assert_eq!((first.tool_use_id(), second.tool_use_id(), text.as_str()), ("t1", "t2", "Here:"));
    assert_eq!(first.content().len(), 1);
    let [ToolResultContentBlock::Text(_), ToolResultContentBlock::Document(moved)] = second.content() else {
        panic!("{:?}", second.content())
    };
    assert_eq!(moved.name(), "notes");
    let untouched = Turn::user("hello");
    assert!(matches!(content::arranged(&untouched), std::borrow::Cow::Borrowed(_)));
}

/// A document a tool returned is left out like any other, its line inside the result.
#[test]
fn a_document_left_out_of_a_tool_result_leaves_its_line_there() {
    use aws_sdk_bedrockruntime::types::ToolResultContentBlock;
    let Content::Document(read) = pdf("read.pdf") else { unreachable!() };
    let mut turns = used_tool();
    let Content::ToolResult(result) = &mut turns[2].content[0] else { unreachable!() };
    result.attachments = vec![streambed_core::Attachment::Document(read)];
    let mut newer = vec![Content::Text("And these".into())];
    newer.extend((0..5).map(|i| pdf(&format!("{i}.pdf"))));
    turns.extend([Turn::assistant("Read."), Turn { role: Role::User, content: newer }]);
    let mut request = ChatRequest::new(turns);
    request.tools = vec![weather()];

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    let [ContentBlock::ToolResult(result), ..] = parts.messages[2].content() else {
        panic!("{:?}", parts.messages[2])
    };
    let [ToolResultContentBlock::Text(sunny), ToolResultContentBlock::Text(note)] = result.content() else {
        panic!("{:?}", result.content())
    };
    assert_eq!(sunny, "sunny");
    assert!(note.contains("\"read\" was attached here"), "{note}");
}

/// So is a screenshot a tool returned, past twenty.
#[test]
fn an_image_left_out_of_a_tool_result_leaves_its_line_there() {
    use aws_sdk_bedrockruntime::types::ToolResultContentBlock;
    let shot = || streambed_core::Image { format: streambed_core::ImageFormat::Png, data: vec![1] };
    let mut turns = used_tool();
    let Content::ToolResult(result) = &mut turns[2].content[0] else { unreachable!() };
    result.attachments = vec![streambed_core::Attachment::Image(shot())];
    let mut newer = vec![Content::Text("And these".into())];
    newer.extend((0..20).map(|_| Content::Image(shot())));
    turns.extend([Turn::assistant("Seen."), Turn { role: Role::User, content: newer }]);
    let mut request = ChatRequest::new(turns);
    request.tools = vec![weather()];

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    let [ContentBlock::ToolResult(result)] = parts.messages[2].content() else {
        panic!("{:?}", parts.messages[2])
    };
    let [ToolResultContentBlock::Text(_), ToolResultContentBlock::Text(note)] = result.content() else {
        panic!("{:?}", result.content())
    };
    assert!(note.starts_with("(An image was shown here."), "{note}");
}

/// Twenty images and documents at most: an agent's twenty-first screenshot pushes out the
/// oldest (a document counts toward both limits), five at a time, so the turns before the
/// cut stay the same for the next four.
#[test]
fn past_twenty_images_and_documents_the_oldest_are_left_out_five_at_a_time() {
    let shot =
        || Content::Image(streambed_core::Image { format: streambed_core::ImageFormat::Png, data: vec![1] });
    let mut turns =
        vec![Turn { role: Role::User, content: vec![pdf("spec.pdf"), Content::Text("Go".into())] }];
    let step = |turns: &mut Vec<Turn>, i: usize| {
        turns.push(Turn::assistant(format!("Step {i}")));
        turns.push(Turn { role: Role::User, content: vec![shot(), Content::Text("Next".into())] });
    };
    for i in 0..20 {
        step(&mut turns, i);
    }
    let mut request = ChatRequest::new(turns.clone());
    let sent = |turns: &[Turn]| build(&ChatRequest::new(turns.to_vec()), Target::new(SONNET_45)).unwrap();
    let shown = |parts: &Parts| {
        parts.messages.iter().flat_map(|m| m.content()).filter(|b| b.is_image() || b.is_document()).count()
    };

    let twenty_one = sent(&turns);
    for i in 20..24 {
        step(&mut turns, i);
    }
    let twenty_five = sent(&turns);
    step(&mut turns, 24);
    let twenty_six = sent(&turns);
    request.messages.last_mut().unwrap().content = (0..21).map(|_| shot()).collect();
    let too_many = build(&request, Target::new(SONNET_45)).unwrap_err();

    assert_eq!(shown(&twenty_one), 16, "five left out");
    let ContentBlock::Text(note) = &twenty_one.messages[0].content()[0] else {
        panic!("{:?}", twenty_one.messages[0])
    };
    assert!(note.contains("\"spec\" was attached here"), "{note}");
    assert!(twenty_one.messages[8].content()[0].is_text(), "the fourth screenshot is left out");
    assert!(twenty_one.messages[10].content()[0].is_image(), "the fifth is sent");
    assert_eq!(twenty_five.messages[..20], twenty_one.messages[..20], "the same cut four turns on");
    assert_eq!(shown(&twenty_five), 20);
    assert_eq!(shown(&twenty_six), 16, "the next five go together");
    assert!(twenty_six.messages[10].content()[0].is_text());
    assert!(too_many.message.contains("at most 20 images and documents"), "{}", too_many.message);
}

/// What the last user turn brings is sent, even where the cut would fall inside it.
#[test]
fn the_cut_never_reaches_the_last_user_turn() {
    let shot =
        || Content::Image(streambed_core::Image { format: streambed_core::ImageFormat::Png, data: vec![1] });
    let mut last: Vec<Content> = (0..20).map(|_| shot()).collect();
    last.push(Content::Text("All of these".into()));
    let request = ChatRequest::new(vec![
        Turn { role: Role::User, content: vec![shot(), Content::Text("This".into())] },
        Turn::assistant("Seen."),
        Turn { role: Role::User, content: last },
    ]);

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    assert!(parts.messages[0].content()[0].is_text(), "the older one is left out");
    assert_eq!(parts.messages[2].content().iter().filter(|b| b.is_image()).count(), 20);
}

/// A tool's images and documents go inside its result, after its text (none when it printed
/// nothing), so every tool result of a turn still comes before anything else.
#[test]
fn a_tools_images_and_documents_go_inside_its_result() {
    use aws_sdk_bedrockruntime::types::ToolResultContentBlock;
    let image = streambed_core::Image { format: streambed_core::ImageFormat::Png, data: vec![1] };
    let Content::Document(document) = pdf("read.pdf") else { unreachable!() };
    let mut request = ChatRequest::new(used_tool());
    let Content::ToolResult(result) = &mut request.messages[2].content[0] else { unreachable!() };
    result.content = String::new();
    result.attachments =
        vec![streambed_core::Attachment::Image(image), streambed_core::Attachment::Document(document)];
    request.tools = vec![weather()];

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    let [ContentBlock::ToolResult(sent), ContentBlock::Text(line)] = parts.messages[2].content() else {
        panic!("{:?}", parts.messages[2])
    };
    assert_eq!(line, "(Attached: read.)", "a turn of results only gets the line a document needs");
    let [ToolResultContentBlock::Image(_), ToolResultContentBlock::Document(read)] = sent.content() else {
        panic!("{:?}", sent.content())
    };
    assert_eq!(read.name(), "read");
}

#[test]
fn images_go_to_a_model_that_takes_them_and_are_refused_by_one_that_does_not() {
    let mut request = ChatRequest::from_prompt("What is this?");
    let image = streambed_core::Image { format: streambed_core::ImageFormat::Webp, data: vec![1, 2, 3] };
    request.messages[0].content.push(Content::Image(image));

    let parts = build(&request, Target::new(SONNET_45)).unwrap();
    let refused = build(&request, Target::new("anthropic.claude-3-5-haiku-20241022-v1:0")).unwrap_err();

    let ContentBlock::Image(block) = &parts.messages[0].content()[1] else { panic!("{:?}", parts.messages) };
    assert_eq!(block.format(), &aws_sdk_bedrockruntime::types::ImageFormat::Webp);
    let source = block.source();
    assert!(
        matches!(source, Some(aws_sdk_bedrockruntime::types::ImageSource::Bytes(b)) if b.as_ref() == [1, 2, 3]),
        "{source:?}"
    );
    assert_eq!(refused.kind, ErrorKind::InvalidRequest);
    assert!(refused.message.contains("does not take images"), "{}", refused.message);
}

#[test]
fn a_conversation_that_opens_with_the_assistant_gets_a_user_turn_before_it() {
    let greeting = Turn { role: Role::Assistant, content: vec![Content::Text("Hi! How can I help?".into())] };
    let request = ChatRequest::new(vec![greeting, Turn::user("hello")]);

    let parts = build(&request, Target::new(SONNET_45)).unwrap();

    let roles: Vec<_> = parts.messages.iter().map(|m| m.role().as_str()).collect();
    assert_eq!(roles, ["user", "assistant", "user"]);
    assert_eq!(parts.messages[0].content(), [ContentBlock::Text(OPENING.into())]);
}

#[test]
fn the_request_carries_stop_sequences_tier_latency_and_extra_fields() {
    let mut request = ChatRequest::from_prompt("hi");
    request.stop_sequences = vec!["END".into()];
    request.params =
        InferenceParams { temperature: Some(0.3), top_p: Some(0.8), top_k: Some(5), max_tokens: None };
    let target = Target {
        service_tier: Some(ServiceTier::Flex),
        latency: Some(Latency::Optimized),
        ..Target::new(SONNET_45)
    };
    let parts = build(&request, target).unwrap();
    let inference = parts.inference.unwrap();
    assert_eq!(inference.stop_sequences(), ["END"]);
    assert_eq!((inference.temperature(), inference.top_p()), (Some(0.3), None));
    assert_eq!(parts.additional.as_ref().map(to_json), Some(json!({ "top_k": 5 })));
    assert_eq!(parts.service_tier.unwrap().r#type(), &ServiceTierType::Flex);
    assert_eq!(parts.performance.unwrap().latency(), &PerformanceConfigLatency::Optimized);
}

#[test]
fn prompt_caching_marks_the_system_prompt_and_the_last_two_user_turns() {
    let mut request = ChatRequest::new(vec![
        Turn::user("a"),
        Turn::assistant("b"),
        Turn::user("c"),
        Turn::assistant("d"),
        Turn::user("e"),
    ]);
    request.system = Some("be brief".into());
    let parts = build(&request, Target { prompt_cache: true, ..Target::new(SONNET_45) }).unwrap();
    assert!(matches!(
        parts.system.as_deref(),
        Some([SystemContentBlock::Text(_), SystemContentBlock::CachePoint(_)])
    ));
    let cached: Vec<bool> =
        parts.messages.iter().map(|m| m.content().last().is_some_and(ContentBlock::is_cache_point)).collect();
    assert_eq!(cached, [false, false, true, false, true]);
    let uncached = build(&request, Target::new(SONNET_45)).unwrap();
    assert!(uncached.messages.iter().all(|m| !m.content().iter().any(ContentBlock::is_cache_point)));
}

#[test]
fn prefill_is_refused_where_the_model_or_reasoning_forbids_it() {
    let request = ChatRequest::new(vec![Turn::user("a"), Turn::assistant("The answer is")]);
    assert!(build(&request, Target::new(SONNET_45)).is_ok());
    let e = build(&request, Target::new("us.anthropic.claude-opus-4-6-v1")).unwrap_err();
    assert_eq!(e.kind, ErrorKind::InvalidRequest);
    let thinking = ChatRequest { reasoning: Reasoning::Low, ..request };
    assert!(build(&thinking, Target::new(SONNET_45)).is_err());
}

#[test]
fn reasoning_with_a_forced_tool_is_refused() {
    let mut request = ChatRequest::from_prompt("hi");
    request.tools = vec![weather()];
    request.tool_choice = ToolChoice::Any;
    request.reasoning = Reasoning::Medium;
    assert_eq!(build(&request, Target::new(SONNET_45)).unwrap_err().kind, ErrorKind::InvalidRequest);
}
