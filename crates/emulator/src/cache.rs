//! Prompt caching as Bedrock reports it. A `cachePoint` block (in `toolConfig.tools`, `system` or
//! a message) marks the end of a prefix; the prefix runs through tools, then system, then
//! messages. A request reads from the cache the longest marked prefix an earlier request wrote,
//! and writes the rest up to its last cache point. Unlike the real service there is no minimum
//! prefix length and no time to live: the emulator keeps the last few thousand prefixes.

use std::{
    collections::VecDeque,
    hash::{DefaultHasher, Hash, Hasher},
    sync::Mutex,
};

use serde_json::Value;

use crate::{
    answer::{content_tokens, count_tokens, tool_tokens},
    family::base_model_id,
    wire::{content_block, tool_spec},
};

const CAPACITY: usize = 4096;

/// Prefixes seen so far, shared by all requests to one emulator.
#[derive(Debug, Default)]
pub(crate) struct PromptCache {
    seen: Mutex<VecDeque<u64>>,
}

/// Input tokens read from and written to the cache by one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CacheUse {
    pub read: u32,
    pub write: u32,
}

impl PromptCache {
    /// What the request reads and writes, and remembers its prefixes; `None` without cache points.
    pub(crate) fn lookup(&self, model_id: &str, body: &Value) -> Option<CacheUse> {
        let points = checkpoints(model_id, body);
        let last = points.last()?;
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let read = points.iter().rev().find(|p| seen.contains(&p.hash)).map_or(0, |p| p.tokens);
        for point in &points {
            if !seen.contains(&point.hash) {
                if seen.len() == CAPACITY {
                    seen.pop_front();
                }
                seen.push_back(point.hash);
            }
        }
        Some(CacheUse { read, write: last.tokens - read })
    }
}

/// The end of a cacheable prefix: its hash (model included) and its tokens.
#[derive(Debug)]
struct Checkpoint {
    hash: u64,
    tokens: u32,
}

#[derive(Default)]
struct Prefix {
    hasher: DefaultHasher,
    tokens: u32,
    points: Vec<Checkpoint>,
}

impl Prefix {
    fn add(&mut self, block: &Value, tokens: u32) {
        if block.get("cachePoint").is_some() {
            self.points.push(Checkpoint { hash: self.hasher.finish(), tokens: self.tokens });
        } else {
            block.to_string().hash(&mut self.hasher);
            self.tokens += tokens;
        }
    }
}

fn list(value: Option<&Value>) -> &[Value] {
    value.and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

fn checkpoints(model_id: &str, body: &Value) -> Vec<Checkpoint> {
    let mut prefix = Prefix::default();
    base_model_id(model_id).hash(&mut prefix.hasher);
    for tool in list(body.get("toolConfig").and_then(|c| c.get("tools"))) {
        prefix.add(tool, tool_spec(tool).map_or(0, |t| tool_tokens(&t)));
    }
    for block in list(body.get("system")) {
        prefix.add(block, block.get("text").and_then(Value::as_str).map_or(0, count_tokens));
    }
    for message in list(body.get("messages")) {
        message.get("role").map(Value::to_string).hash(&mut prefix.hasher);
        for block in list(message.get("content")) {
            prefix.add(block, content_block(block).as_ref().map_or(0, content_tokens));
        }
    }
    prefix.points
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(system: &str, question: &str) -> Value {
        json!({
            "system": [{"text": system}, {"cachePoint": {"type": "default"}}],
            "messages": [{"role": "user", "content": [{"text": question}]}]
        })
    }

    #[test]
    fn a_new_prefix_is_written_and_the_same_prefix_is_then_read() {
        let cache = PromptCache::default();
        let model = "anthropic.claude-sonnet-4-5-20250929-v1:0";

        assert_eq!(
            cache.lookup(model, &body("You are a very careful assistant.", "Hi")),
            Some(CacheUse { read: 0, write: 6 })
        );
        assert_eq!(
            cache.lookup(model, &body("You are a very careful assistant.", "Bye")),
            Some(CacheUse { read: 6, write: 0 })
        );
        assert_eq!(
            cache.lookup(&format!("us.{model}"), &body("You are a very careful assistant.", "Hi")),
            Some(CacheUse { read: 6, write: 0 })
        );
        assert_eq!(
            cache.lookup("anthropic.claude-opus-4-6-v1", &body("You are a very careful assistant.", "Hi")),
            Some(CacheUse { read: 0, write: 6 })
        );
        assert_eq!(
            cache.lookup(model, &json!({"messages": [{"role": "user", "content": [{"text": "x"}]}]})),
            None
        );
    }

    #[test]
    fn a_longer_prefix_reads_the_cached_part_and_writes_the_rest() {
        let cache = PromptCache::default();
        let model = "anthropic.claude-sonnet-4-5-20250929-v1:0";
        let first = body("Be brief.", "Hi");
        cache.lookup(model, &first);
        let mut second = first.clone();
        second["messages"][0]["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"cachePoint": {"type": "default"}}));

        assert_eq!(cache.lookup(model, &second), Some(CacheUse { read: 2, write: 1 }));
    }
}
