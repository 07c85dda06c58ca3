//! `response_format`. A JSON Schema becomes structured output, which Bedrock's Converse
//! enforces (`outputConfig.textFormat`). `json_object` (any JSON object, no schema) has no
//! counterpart there, since Converse constrains output only to a schema: the model is asked for
//! it in the system prompt instead, as OpenAI itself asks callers of JSON mode to do, so the
//! JSON is the model's, not enforced.

use serde_json::Value;
use streambed_core::OutputSchema;

use crate::routes::openai::{
    error::Invalid,
    wire::{JsonSchemaFormat, ResponseFormat},
};

/// What `response_format` asks of the answer.
#[derive(Debug, PartialEq)]
pub(super) enum Format {
    Text,
    /// JSON of this schema, enforced.
    Schema(OutputSchema),
    /// A JSON object, asked for in the system prompt.
    JsonObject,
}

/// The instruction `json_object` adds to the system prompt.
pub(super) const JSON_OBJECT: &str =
    "Answer with one JSON object and nothing else: no prose before or after it, no Markdown code fence.";

pub(super) fn format(format: Option<ResponseFormat>) -> Result<Format, Invalid> {
    match format {
        None | Some(ResponseFormat::Text) => Ok(Format::Text),
        Some(ResponseFormat::JsonSchema {
            json_schema: JsonSchemaFormat { name, description, schema, .. },
        }) => {
            let schema = schema.ok_or_else(|| {
                Invalid::param(
                    "response_format",
                    "`response_format.json_schema.schema` is required here.".into(),
                )
            })?;
            Ok(Format::Schema(OutputSchema { name, description, schema: Value::Object(schema) }))
        }
        Some(ResponseFormat::JsonObject) => Ok(Format::JsonObject),
    }
}

impl Format {
    /// The system prompt with what this format asks of it, and the schema to enforce.
    pub(super) fn apply(self, system: Option<String>) -> (Option<String>, Option<OutputSchema>) {
        match self {
            Self::Text => (system, None),
            Self::Schema(schema) => (system, Some(schema)),
            Self::JsonObject => {
                let system = match system {
                    Some(system) => format!("{system}\n\n{JSON_OBJECT}"),
                    None => JSON_OBJECT.to_owned(),
                };
                (Some(system), None)
            }
        }
    }
}
