//! `response_format` as structured output: a JSON Schema the answer's text must follow, which
//! Bedrock's Converse enforces (`outputConfig.textFormat`).

use serde_json::Value;
use streambed_core::OutputSchema;

use crate::routes::openai::{
    error::Invalid,
    wire::{JsonSchemaFormat, ResponseFormat},
};

/// The schema `response_format` asks the answer to follow, if any. `json_object` (any JSON
/// object, no schema) has no counterpart in Converse, which constrains output only to a schema:
/// it is refused, saying what to send instead, rather than answered with prose.
pub(super) fn output_schema(format: Option<ResponseFormat>) -> Result<Option<OutputSchema>, Invalid> {
    match format {
        None | Some(ResponseFormat::Text) => Ok(None),
        Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat { name, description, schema, .. },
        }) => {
            let schema = schema.ok_or_else(|| {
                Invalid::param(
                    "response_format",
                    "`response_format.json_schema.schema` is required here.".into(),
                )
            })?;
            Ok(Some(OutputSchema { name, description, schema: Value::Object(schema) }))
        }
        Some(ResponseFormat::JsonObject) => Err(Invalid::param(
            "response_format",
            "`json_object` is not supported: Bedrock constrains an answer to a JSON Schema, not to any \
             JSON. Send `{\"type\": \"json_schema\", \"json_schema\": {\"name\": …, \"schema\": …}}`."
                .into(),
        )),
    }
}
