//! The prompt the model reads: a conversation in its chat template, fitted to its context.

use streambed_core::{ChatRequest, ErrorKind, ProviderError, Role};

use crate::{template, tokenizer::ChatTokenizer};

/// The prompt's tokens, dropping the oldest turns while it exceeds what the context holds
/// besides the answer's `answer` tokens, and then any answer left at its head, so the model
/// reads a conversation that opens with a question; and the answer's share, which gives
/// room to a last message that would not fit beside it whole (clients ask for long answers
/// by default), down to an eighth of the context.
pub(crate) fn fit(
    tokenizer: &ChatTokenizer,
    request: &ChatRequest,
    context: usize,
    answer: usize,
) -> Result<(Vec<u32>, usize), ProviderError> {
    let least = answer.min(context / 8);
    let mut answer = answer;
    let system = tokenizer.encode(&template::system_turn(request.system.as_deref()));
    let open = tokenizer.encode(template::ASSISTANT_OPEN);
    let turns: Vec<Vec<u32>> =
        template::message_turns(&request.messages).map(|t| tokenizer.encode(&t)).collect();
    let mut total = system.len() + open.len() + turns.iter().map(Vec::len).sum::<usize>();
    let mut first = 0;
    let opens_with_answer =
        |first: usize| request.messages.get(first).is_some_and(|m| m.role == Role::Assistant);
    while total.saturating_add(answer) > context || (first > 0 && opens_with_answer(first)) {
        if first + 1 >= turns.len() {
            if total.saturating_add(least) > context {
                // Opening with the words of Anthropic's API for a prompt past the context, which
                // clients (LangChain, LiteLLM, agents) read, on either compatible API, to shorten
                // the conversation and try again.
                return Err(ProviderError::new(
                    ErrorKind::InvalidRequest,
                    format!(
                        "prompt is too long: {total} tokens > {} maximum. The last message is too long for \
                         the local model: its context holds {context} tokens, the message and at least \
                         {least} for the answer. Shorten it.",
                        context - least
                    ),
                ));
            }
            answer = answer.min(context - total);
            break;
        }
        total -= turns[first].len();
        first += 1;
    }
    if first > 0 {
        tracing::info!(
            dropped_turns = first,
            prompt_tokens = total,
            "conversation trimmed to fit the local model's context"
        );
    }
    let tokens = [system].into_iter().chain(turns.into_iter().skip(first)).chain([open]).flatten().collect();
    Ok((tokens, answer))
}

#[cfg(test)]
mod tests {
    use streambed_core::{ChatRequest, Message};

    use super::fit;
    use crate::tests::model_path;

    #[test]
    fn a_conversation_trimmed_to_fit_opens_with_a_question() {
        let (_, tokenizer) = crate::weights::load(&model_path()).expect("the model; run `just model`");
        let filler = "word ".repeat(60);
        let request = ChatRequest::new(vec![
            Message::user(format!("first {filler}")),
            Message::assistant(format!("second {filler}")),
            Message::user("third, short"),
            Message::assistant("fourth, short"),
            Message::user("Say hi."),
        ]);
        let whole = fit(&tokenizer, &request, usize::MAX, 0).unwrap().0.len();

        // Room for all but the first question: its answer goes too.
        let (kept, _) = fit(&tokenizer, &request, whole - 10, 0).unwrap();

        let text = tokenizer.decode(&kept);
        assert!(!text.contains("first") && !text.contains("second"), "{text}");
        assert!(text.contains("third, short") && text.contains("Say hi."), "{text}");
    }
}
