//! Structured output (`outputConfig.textFormat`): Bedrock constrains the answer to one JSON
//! value of the schema, sent as text. The emulator writes the smallest such value, which is
//! enough for a client to parse and check: every required property (every property when none
//! is listed), an enum's first value, a `const`, the first branch of `anyOf`/`oneOf`, every
//! branch of `allOf`, the minimum number and the fewest items; `$ref`s into `$defs` or
//! `definitions` are followed (as Pydantic writes nested models).

use serde_json::{Map, Value, json};
use streambed_core::OutputSchema;

/// The value the emulated model answers for `schema`.
pub(crate) fn instance(schema: &Value) -> Value {
    value(schema, schema, 0)
}

/// Deeper than any schema a client sends, short of a recursive one, which ends in `null`.
const MOST_DEPTH: usize = 32;

/// What a schema says before its type does, for the walks that write a value of it (here and
/// the emulated model's tool inputs).
pub(crate) enum Lead<'a> {
    /// Write a value of this schema instead: the `$ref`'s target, or a union's first branch.
    To(&'a Value),
    /// This value: the `const`, or the enum's first.
    Fixed(Value),
    /// Too deep (a recursive schema): `null`.
    Deep,
    /// Nothing: the schema's own type decides.
    Own,
}

/// Where `schema` (a part of `root`, `depth` deep) leads.
pub(crate) fn lead<'a>(schema: &'a Value, root: &'a Value, depth: usize) -> Lead<'a> {
    if depth > MOST_DEPTH {
        return Lead::Deep;
    }
    if let Some(target) = schema.get("$ref").and_then(Value::as_str).and_then(|r| resolve(root, r)) {
        return Lead::To(target);
    }
    if let Some(fixed) = schema.get("const") {
        return Lead::Fixed(fixed.clone());
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|values| values.first()) {
        return Lead::Fixed(first.clone());
    }
    let union = ["anyOf", "oneOf"].into_iter().find_map(|key| schema.get(key)?.as_array()?.first());
    union.map_or(Lead::Own, Lead::To)
}

fn value(schema: &Value, root: &Value, depth: usize) -> Value {
    match lead(schema, root, depth) {
        Lead::To(next) => return value(next, root, depth + 1),
        Lead::Fixed(fixed) => return fixed,
        Lead::Deep => return Value::Null,
        Lead::Own => {}
    }
    if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
        return all_of(branches, root, depth);
    }
    let minimum = || schema.get("minimum").cloned().unwrap_or_else(|| json!(0));
    match kind(schema) {
        "object" => object(schema, root, depth),
        "array" => {
            let items = schema.get("items").cloned().unwrap_or_else(|| json!({}));
            let count = schema.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            Value::Array((0..count).map(|_| value(&items, root, depth + 1)).collect())
        }
        "integer" | "number" => minimum(),
        "boolean" => Value::Bool(true),
        "null" => Value::Null,
        _ => Value::String("example".into()),
    }
}

/// The schema's `type` (the first that is not `null`, of a list); an object's when it lists
/// properties and names none.
fn kind(schema: &Value) -> &str {
    match schema.get("type") {
        Some(Value::String(kind)) => kind,
        Some(Value::Array(kinds)) => {
            kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null")
        }
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    }
}

fn object(schema: &Value, root: &Value, depth: usize) -> Value {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return Value::Object(Map::new());
    };
    let required: Option<Vec<&str>> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect());
    properties
        .iter()
        .filter(|(name, _)| required.as_ref().is_none_or(|required| required.contains(&name.as_str())))
        .map(|(name, property)| (name.clone(), value(property, root, depth + 1)))
        .collect::<Map<_, _>>()
        .into()
}

/// A value of every branch: their objects' members together (the usual `allOf`, an object and
/// its extensions), else the first branch's value.
fn all_of(branches: &[Value], root: &Value, depth: usize) -> Value {
    let values: Vec<Value> = branches.iter().map(|branch| value(branch, root, depth + 1)).collect();
    if values.iter().all(Value::is_object) {
        let members = values.into_iter().filter_map(|v| match v {
            Value::Object(members) => Some(members),
            _ => None,
        });
        return Value::Object(members.flatten().collect());
    }
    values.into_iter().next().unwrap_or(Value::Null)
}

/// What Claude's grammar cannot hold in `schema`, if anything: a numeric, length or size bound
/// (`minItems` above 1), or an object open to other members.
pub(crate) fn refusal(schema: &Value) -> Option<String> {
    match schema {
        Value::Object(members) => {
            if let Some(bound) = members.iter().find(|(key, value)| {
                OutputSchema::CLAUDE_UNENFORCED.contains(&key.as_str())
                    || (*key == "minItems" && value.as_u64() > Some(1))
            }) {
                return Some(format!("'{}' is not supported.", bound.0));
            }
            let object = members.get("type").and_then(Value::as_str) == Some("object")
                || members.contains_key("properties");
            if object && members.get("additionalProperties") != Some(&Value::Bool(false)) {
                return Some("'additionalProperties' must be set to false for object types.".into());
            }
            members.values().find_map(refusal)
        }
        Value::Array(items) => items.iter().find_map(refusal),
        _ => None,
    }
}

/// `#/$defs/Name` or `#/definitions/Name` (any JSON pointer into the root).
fn resolve<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_value_of_a_pydantic_style_schema() {
        let schema = json!({
            "$defs": {
                "Address": { "type": "object", "properties": { "city": { "type": "string" } }, "required": ["city"] }
            },
            "type": "object",
            "properties": {
                "name": { "type": "string" },
                "age": { "type": "integer", "minimum": 18 },
                "tags": { "type": "array", "items": { "type": "string" }, "minItems": 1 },
                "kind": { "enum": ["person", "robot"] },
                "address": { "$ref": "#/$defs/Address" },
                "nickname": { "anyOf": [{ "type": "string" }, { "type": "null" }] },
                "score": { "type": ["number", "null"] },
                "note": { "type": "string" }
            },
            "required": ["name", "age", "tags", "kind", "address", "nickname", "score"],
            "additionalProperties": false
        });

        assert_eq!(
            instance(&schema),
            json!({
                "name": "example", "age": 18, "tags": ["example"], "kind": "person",
                "address": { "city": "example" }, "nickname": "example", "score": 0
            })
        );
    }

    #[test]
    fn all_of_takes_every_branchs_members() {
        let schema = json!({ "allOf": [
            { "type": "object", "properties": { "a": { "type": "string" } } },
            { "type": "object", "properties": { "b": { "type": "boolean" } } }
        ] });
        assert_eq!(instance(&schema), json!({ "a": "example", "b": true }));
    }

    #[test]
    fn a_recursive_schema_ends() {
        let schema = json!({ "$ref": "#", "type": "object" });
        assert_eq!(instance(&schema), Value::Null);
    }
}
