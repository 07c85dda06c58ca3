//! OpenAI's `tools` and `tool_choice` as the neutral tool specs and choice: function tools only,
//! and the choice narrowing the tools offered (`allowed_tools`).

use serde_json::json;
use streambed_core::{ToolChoice, ToolSpec};

use crate::routes::openai::{
    error::Invalid,
    wire::{InTool, InToolChoice},
};

/// The tools offered to the model, and whether and which it must call.
pub(super) fn tools(
    tools: Option<Vec<InTool>>,
    choice: Option<InToolChoice>,
) -> Result<(Vec<ToolSpec>, ToolChoice), Invalid> {
    let tools = tools.unwrap_or_default().into_iter().enumerate().map(tool).collect::<Result<Vec<_>, _>>()?;
    let (choice, tools) = tool_choice(choice, tools)?;
    Ok((tools, choice))
}

fn tool((i, tool): (usize, InTool)) -> Result<ToolSpec, Invalid> {
    match (tool.kind.as_str(), tool.function) {
        ("function", Some(function)) => match function.parameters {
            None => Ok(json!({ "type": "object", "properties": {} })),
            Some(schema) if schema.is_object() => Ok(schema),
            Some(_) => Err(Invalid::param(
                "tools",
                format!("`tools[{i}].function.parameters` must be a JSON Schema object."),
            )),
        }
        .map(|input_schema| ToolSpec {
            name: function.name,
            description: function.description,
            input_schema,
        }),
        (kind, _) => Err(Invalid::param(
            "tools",
            format!("`tools[{i}]` is a `{kind}` tool: this server takes `function` tools with a `function`."),
        )),
    }
}

/// The tool choice, and the tools the model is offered: all of `tools`, or those an
/// `allowed_tools` choice names.
fn tool_choice(
    choice: Option<InToolChoice>,
    tools: Vec<ToolSpec>,
) -> Result<(ToolChoice, Vec<ToolSpec>), Invalid> {
    let invalid = |message: String| Err(Invalid::param("tool_choice", message));
    let known = |name: &str, tools: &[ToolSpec]| tools.iter().any(|t| t.name == name);
    let (choice, tools) = match choice {
        None => (ToolChoice::Auto, tools),
        Some(InToolChoice::Mode(mode)) => {
            let Some(choice) = mode_choice(&mode) else {
                return invalid(format!(
                    "`tool_choice` is `{mode}`: use `auto`, `none`, `required` or a named function."
                ));
            };
            (choice, tools)
        }
        Some(InToolChoice::Named { kind, function }) => {
            if kind != "function" {
                return invalid(format!("`tool_choice.type` is `{kind}`: a named choice is `function`."));
            }
            if !known(&function.name, &tools) {
                return invalid(format!(
                    "`tool_choice` names `{}`, which is not among the `tools`.",
                    function.name
                ));
            }
            (ToolChoice::Tool(function.name), tools)
        }
        Some(InToolChoice::Allowed { kind, allowed_tools }) => {
            if kind != "allowed_tools" {
                return invalid(format!("`tool_choice.type` is `{kind}`: expected `allowed_tools`."));
            }
            let mut allowed = Vec::with_capacity(allowed_tools.tools.len());
            for (i, tool) in allowed_tools.tools.into_iter().enumerate() {
                if tool.kind != "function" || !known(&tool.function.name, &tools) {
                    return invalid(format!(
                        "`tool_choice.allowed_tools.tools[{i}]` must be a `function` among the `tools`."
                    ));
                }
                allowed.push(tool.function.name);
            }
            let Some(choice @ (ToolChoice::Auto | ToolChoice::Any)) = mode_choice(&allowed_tools.mode) else {
                return invalid(format!(
                    "`tool_choice.allowed_tools.mode` is `{}`: use `auto` or `required`.",
                    allowed_tools.mode
                ));
            };
            (choice, tools.into_iter().filter(|t| allowed.contains(&t.name)).collect())
        }
    };
    if matches!(choice, ToolChoice::Any | ToolChoice::Tool(_)) && tools.is_empty() {
        return invalid("A `tool_choice` that forces a call needs `tools`.".into());
    }
    Ok((choice, tools))
}

/// `auto`, `none` or `required`.
fn mode_choice(mode: &str) -> Option<ToolChoice> {
    match mode {
        "auto" => Some(ToolChoice::Auto),
        "none" => Some(ToolChoice::None),
        "required" => Some(ToolChoice::Any),
        _ => None,
    }
}
