//! A JSON Schema as Claude's structured outputs take it. Claude compiles the schema into a
//! grammar and refuses what that cannot hold (Anthropic, "Structured outputs", JSON Schema
//! limitations): numeric, string-length and collection-size bounds, `minItems` above 1, and
//! objects open to members beyond their `properties`. The official Anthropic SDKs rewrite a
//! schema so before they send it: each bound becomes words in its schema's `description`, and
//! objects are closed. Clients of the OpenAI-shaped API send schemas as their own libraries
//! write them (zod's `.int()` adds ±2⁵³ bounds, Pydantic's `Field(ge=…)` a `minimum`), so the
//! server rewrites them the same way for Claude models. The answer still follows every
//! structural part of the schema; the bounds are asked for in words, not enforced.

use serde_json::{Map, Value};
use streambed_core::OutputSchema;

/// Members whose value is a schema, and those whose value maps names or positions to schemas.
/// (`additionalProperties` is not among them: every object is closed.)
const SCHEMA: [&str; 3] = ["items", "not", "contains"];
const SCHEMA_MAPS: [&str; 3] = ["properties", "$defs", "definitions"];
const SCHEMA_LISTS: [&str; 4] = ["anyOf", "oneOf", "allOf", "prefixItems"];

/// `schema` rewritten for Claude: bounds into descriptions, objects closed, `$schema` left out.
pub(crate) fn for_claude(schema: &Value) -> Value {
    let Value::Object(members) = schema else { return schema.clone() };
    let mut out = Map::new();
    let mut bounds = Vec::new();
    for (key, value) in members {
        let bound = OutputSchema::CLAUDE_UNENFORCED.contains(&key.as_str())
            || (key == "minItems" && value.as_u64() > Some(1));
        match key.as_str() {
            "$schema" => {}
            _ if bound => bounds.push(format!("{key}: {value}")),
            key if SCHEMA.contains(&key) && value.is_object() => {
                out.insert(key.to_owned(), for_claude(value));
            }
            key if SCHEMA_MAPS.contains(&key) => {
                let rewritten = value.as_object().map(|schemas| {
                    schemas.iter().map(|(name, schema)| (name.clone(), for_claude(schema))).collect()
                });
                out.insert(key.to_owned(), rewritten.map_or_else(|| value.clone(), Value::Object));
            }
            key if SCHEMA_LISTS.contains(&key) => {
                let rewritten = value.as_array().map(|schemas| schemas.iter().map(for_claude).collect());
                out.insert(key.to_owned(), rewritten.map_or_else(|| value.clone(), Value::Array));
            }
            key => {
                out.insert(key.to_owned(), value.clone());
            }
        }
    }
    let object = out.get("type").and_then(Value::as_str) == Some("object") || out.contains_key("properties");
    if object {
        // Even a map's (`dict[str, int]`, zod's `record`), whose members the grammar then cannot
        // hold: Claude refuses any other value, and the SDKs close it so too.
        out.insert("additionalProperties".into(), Value::Bool(false));
    }
    if !bounds.is_empty() {
        let said = format!("{{{}}}", bounds.join(", "));
        let description = match out.get("description").and_then(Value::as_str) {
            Some(description) => format!("{description}\n\n{said}"),
            None => said,
        };
        out.insert("description".into(), Value::String(description));
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn bounds_become_words_and_objects_close_as_the_anthropic_sdks_do() {
        // What zod writes for `z.object({ age: z.number().int().min(18), tags: z.array(z.string()).min(2) })`.
        let zod = json!({
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "age": { "type": "integer", "minimum": 18, "maximum": 9_007_199_254_740_991_u64 },
                "tags": { "type": "array", "items": { "type": "string", "maxLength": 5 }, "minItems": 2 },
                "nick": { "anyOf": [{ "type": "string", "minLength": 1 }, { "type": "null" }] },
                "home": { "$ref": "#/$defs/Home" },
                "extra": { "type": "object", "additionalProperties": { "type": "string" } }
            },
            "required": ["age", "tags", "nick", "home", "extra"],
            "$defs": { "Home": { "type": "object", "description": "Where.", "properties": { "n": { "type": "integer", "minimum": 1 } } } }
        });

        let rewritten = for_claude(&zod);

        assert_eq!(
            rewritten,
            json!({
                "type": "object",
                "properties": {
                    "age": { "type": "integer", "description": "{maximum: 9007199254740991, minimum: 18}" },
                    "tags": {
                        "type": "array",
                        "items": { "type": "string", "description": "{maxLength: 5}" },
                        "description": "{minItems: 2}"
                    },
                    "nick": { "anyOf": [{ "type": "string", "description": "{minLength: 1}" }, { "type": "null" }] },
                    "home": { "$ref": "#/$defs/Home" },
                    "extra": { "type": "object", "additionalProperties": false }
                },
                "required": ["age", "tags", "nick", "home", "extra"],
                "$defs": {
                    "Home": {
                        "type": "object",
                        "description": "Where.",
                        "properties": { "n": { "type": "integer", "description": "{minimum: 1}" } },
                        "additionalProperties": false
                    }
                },
                "additionalProperties": false
            })
        );
    }
}
