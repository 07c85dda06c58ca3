//! `BEDROCK_MAX_TOKENS`, `BEDROCK_TEMPERATURE`, `BEDROCK_TOP_P` and `BEDROCK_TOP_K`: the sampling
//! settings sent with every request where the client sets none.

use streambed_core::InferenceParams;

use super::{ConfigError, Limits, Vars};

/// Within `limits` (`BEDROCK_MAX_TOKENS` up to `MAX_TOKENS_LIMIT`); unset leaves each to the model.
pub(super) fn read(vars: &Vars, limits: &Limits) -> Result<InferenceParams, ConfigError> {
    Ok(InferenceParams {
        max_tokens: vars.optional(
            "BEDROCK_MAX_TOKENS",
            |v: &u32| (1..=limits.max_tokens).contains(v),
            &format!("an integer from 1 to MAX_TOKENS_LIMIT ({})", limits.max_tokens),
        )?,
        temperature: vars.optional("BEDROCK_TEMPERATURE", unit_interval, "a number from 0 to 1")?,
        top_p: vars.optional("BEDROCK_TOP_P", unit_interval, "a number from 0 to 1")?,
        top_k: vars.optional("BEDROCK_TOP_K", |k: &u32| *k >= 1, "an integer of at least 1")?,
    })
}

fn unit_interval(v: &f32) -> bool {
    (0.0..=1.0).contains(v)
}
