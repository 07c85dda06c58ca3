//! The turns a client sends, as every chat route hands them to a model: consecutive turns of one
//! role merged into one (Converse wants turns to alternate: several tool results, or a tool result
//! and the user's text, make one user turn), ending with the user's turn, since no route continues
//! a prefilled answer (`ChatRequest` itself may end with one, for the providers' own callers).
//! Each route words a refusal in its API's terms.

use std::ops::Deref;

use streambed_core::{ChatRequest, Message, Role};

/// Turns that alternate and end with the user's.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Turns(Vec<Message>);

/// Why turns cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Refused {
    Empty,
    EndsWithAssistant,
}

impl Turns {
    /// `turns` in order, each merged into the one before when both are of one role.
    pub(super) fn new(turns: impl IntoIterator<Item = Message>) -> Result<Self, Refused> {
        let mut merged: Vec<Message> = Vec::new();
        for turn in turns {
            match merged.last_mut() {
                Some(last) if last.role == turn.role => last.content.extend(turn.content),
                _ => merged.push(turn),
            }
        }
        match merged.last() {
            None => Err(Refused::Empty),
            Some(last) if last.role != Role::User => Err(Refused::EndsWithAssistant),
            Some(_) => Ok(Self(merged)),
        }
    }

    /// The seed's single prompt.
    pub(super) fn prompt(text: impl Into<String>) -> Self {
        Self(vec![Message::user(text)])
    }

    /// A request for these turns with every option at the provider's default.
    pub(super) fn request(self) -> ChatRequest {
        ChatRequest::new(self.0)
    }
}

impl Deref for Turns {
    type Target = [Message];

    fn deref(&self) -> &[Message] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use streambed_core::Content;

    use super::*;

    #[test]
    fn turns_of_one_role_become_one_and_the_user_speaks_last() {
        let turns =
            Turns::new([Message::user("a"), Message::user("b"), Message::assistant("c"), Message::user("d")]);
        let turns = turns.unwrap();
        assert_eq!(turns.len(), 3);
        assert_eq!(turns[0].content, [Content::Text("a".into()), Content::Text("b".into())]);
        assert_eq!(Turns::new([]), Err(Refused::Empty));
        assert_eq!(
            Turns::new([Message::user("a"), Message::assistant("b")]),
            Err(Refused::EndsWithAssistant)
        );
    }
}
