//! What each model family on Bedrock accepts, as data: one row per family, each fact with where
//! it was found. `params.rs` turns a row and a request into what is sent; an id that matches no
//! row (an application inference profile, a model newer than this table) is sent as configured.

use streambed_core::{Capabilities, ReasoningStyle};

/// Which sampling parameters a family takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sampling {
    /// Temperature, top_p and top_k, in any combination.
    All,
    /// Temperature or top_p but not both (top_k is free).
    TemperatureOrTopP,
    /// None at all: any of them is a 400.
    None,
}

/// Where a family's extra fields go in `additionalModelRequestFields`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    /// Anthropic's Messages fields: `top_k`, `thinking`, `output_config`.
    Anthropic,
    /// Nova's: `inferenceConfig.topK`.
    Nova,
}

/// One family's rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub family: &'static str,
    /// Model ids (without region prefix) that start with one of these belong to the family.
    pub prefixes: &'static [&'static str],
    pub vendor: Vendor,
    pub sampling: Sampling,
    pub reasoning: ReasoningStyle,
    /// Whether the conversation may end with an assistant turn for the model to continue.
    pub prefill: bool,
    /// `max_tokens` is clamped to this.
    pub max_output_tokens: u32,
    pub context_window: u32,
    pub prompt_cache: bool,
    pub tools: bool,
    /// Whether it takes a schema for its answer (`outputConfig.textFormat`); without it, a schema
    /// is asked for as a forced tool call (`schema_tool.rs`).
    pub structured_output: bool,
    pub images: bool,
    pub documents: bool,
}

/// Claude 3 Haiku, the oldest row; later rows say only what changed. Source for the output
/// ceilings and context windows: Anthropic's models overview and the Bedrock model cards.
const CLAUDE: Rule = Rule {
    family: "",
    prefixes: &[],
    vendor: Vendor::Anthropic,
    sampling: Sampling::All,
    reasoning: ReasoningStyle::None,
    prefill: true,
    max_output_tokens: 4_096,
    context_window: 200_000,
    prompt_cache: false,
    tools: true,
    structured_output: false,
    images: true,
    documents: true,
};

/// Nova Lite/Pro: images and documents, prompt caching (Bedrock prompt-caching page), top_k in
/// `additionalModelRequestFields.inferenceConfig.topK` (Nova user guide, "Core inference"),
/// 5K output tokens (Nova model card).
const NOVA: Rule = Rule {
    family: "",
    prefixes: &[],
    vendor: Vendor::Nova,
    sampling: Sampling::All,
    reasoning: ReasoningStyle::None,
    prefill: true,
    max_output_tokens: 5_000,
    context_window: 300_000,
    prompt_cache: true,
    tools: true,
    structured_output: false,
    images: true,
    documents: true,
};

/// Longer prefixes first where one family's prefix starts another's (Opus 4 vs 4.1).
pub(crate) const TABLE: &[Rule] = &[
    Rule { family: "Claude 3 Haiku", prefixes: &["anthropic.claude-3-haiku"], ..CLAUDE },
    Rule {
        family: "Claude 3 Sonnet/Opus",
        prefixes: &["anthropic.claude-3-sonnet", "anthropic.claude-3-opus"],
        ..CLAUDE
    },
    // Text only (Bedrock model card: input modalities text); prompt caching GA (Bedrock
    // prompt-caching page).
    Rule {
        family: "Claude 3.5 Haiku",
        prefixes: &["anthropic.claude-3-5-haiku"],
        max_output_tokens: 8_192,
        images: false,
        prompt_cache: true,
        ..CLAUDE
    },
    // 8,192 output tokens only behind a beta header on Anthropic's API, which Converse does not send.
    Rule { family: "Claude 3.5 Sonnet v1", prefixes: &["anthropic.claude-3-5-sonnet-20240620"], ..CLAUDE },
    // Prompt caching was a preview closed to new accounts (Bedrock prompt-caching page note).
    Rule {
        family: "Claude 3.5 Sonnet v2",
        prefixes: &["anthropic.claude-3-5-sonnet-20241022"],
        max_output_tokens: 8_192,
        ..CLAUDE
    },
    // The first with extended thinking (`thinking.type: enabled` + `budget_tokens`): Bedrock's
    // "Extended thinking" page.
    Rule {
        family: "Claude 3.7 Sonnet",
        prefixes: &["anthropic.claude-3-7-sonnet"],
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 64_000,
        prompt_cache: true,
        ..CLAUDE
    },
    Rule {
        family: "Claude Sonnet 4",
        prefixes: &["anthropic.claude-sonnet-4-20"],
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 64_000,
        prompt_cache: true,
        ..CLAUDE
    },
    Rule {
        family: "Claude Opus 4",
        prefixes: &["anthropic.claude-opus-4-20"],
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 32_000,
        prompt_cache: true,
        ..CLAUDE
    },
    // "temperature and top_p cannot both be specified": aws-samples/bedrock-chat#979. The first
    // to take a schema for its answer, as every Claude row after it (Bedrock's "Structured
    // outputs" page: Opus 4.1, and the 4.5 models on).
    Rule {
        family: "Claude Opus 4.1",
        prefixes: &["anthropic.claude-opus-4-1"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 32_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // Pair refused: BerriAI/litellm#15070, aws-samples/bedrock-chat#943 (citing Bedrock's
    // Anthropic Messages parameters page).
    Rule {
        family: "Claude Sonnet 4.5",
        prefixes: &["anthropic.claude-sonnet-4-5"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 64_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // Pair refused: aws-samples/bedrock-access-gateway#191.
    Rule {
        family: "Claude Haiku 4.5",
        prefixes: &["anthropic.claude-haiku-4-5"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 64_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // Pair refused: aws-samples/bedrock-access-gateway#208. Budget thinking only: Bedrock's
    // "Adaptive thinking" page ("older models (Sonnet 4.5, Opus 4.5) require budget_tokens").
    Rule {
        family: "Claude Opus 4.5",
        prefixes: &["anthropic.claude-opus-4-5"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Budget,
        max_output_tokens: 64_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // Adaptive thinking recommended, budget deprecated (Bedrock "Adaptive thinking" page); pair
    // refused (aws-samples/bedrock-access-gateway#238); no assistant prefill (snap-stanford/
    // Biomni#284, langchain-ai/deepagents#1585).
    Rule {
        family: "Claude Sonnet 4.6",
        prefixes: &["anthropic.claude-sonnet-4-6"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Adaptive,
        prefill: false,
        max_output_tokens: 64_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // As Sonnet 4.6; no prefill on Bedrock (anomalyco/opencode#29760); 128K output
    // (Effect-TS/effect#7129, Anthropic's models overview).
    Rule {
        family: "Claude Opus 4.6",
        prefixes: &["anthropic.claude-opus-4-6"],
        sampling: Sampling::TemperatureOrTopP,
        reasoning: ReasoningStyle::Adaptive,
        prefill: false,
        max_output_tokens: 128_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // No temperature, top_p or top_k at all (Bedrock model card "parameters change", cited by
    // aws-samples/bedrock-chat#1102; "temperature is deprecated for this model":
    // pollinations/pollinations#11319); adaptive thinking only, budget is a 400; 1M context, 128K
    // output (Bedrock model card).
    Rule {
        family: "Claude Opus 4.7",
        prefixes: &["anthropic.claude-opus-4-7"],
        sampling: Sampling::None,
        reasoning: ReasoningStyle::Adaptive,
        prefill: false,
        max_output_tokens: 128_000,
        context_window: 1_000_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // As Opus 4.7: adaptive only (coder/coder#26691), temperature deprecated
    // (ziatdinovmax/SciLink#269), no prefill (HKUDS/Vibe-Trading#246).
    Rule {
        family: "Claude Opus 4.8",
        prefixes: &["anthropic.claude-opus-4-8"],
        sampling: Sampling::None,
        reasoning: ReasoningStyle::Adaptive,
        prefill: false,
        max_output_tokens: 128_000,
        context_window: 1_000_000,
        prompt_cache: true,
        structured_output: true,
        ..CLAUDE
    },
    // Text only, 128K context (Nova model card).
    Rule {
        family: "Amazon Nova Micro",
        prefixes: &["amazon.nova-micro"],
        context_window: 128_000,
        images: false,
        documents: false,
        ..NOVA
    },
    Rule { family: "Amazon Nova Lite/Pro", prefixes: &["amazon.nova-lite", "amazon.nova-pro"], ..NOVA },
    // 1M context, 32K output (Nova Premier model card).
    Rule {
        family: "Amazon Nova Premier",
        prefixes: &["amazon.nova-premier"],
        max_output_tokens: 32_000,
        context_window: 1_000_000,
        ..NOVA
    },
];

/// Cross-Region inference profile prefixes (CDK's `CrossRegionInferenceProfileRegion`:
/// US, EU, APAC, GLOBAL, US_GOV, JP, AU).
const REGION_PREFIXES: [&str; 7] = ["us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."];

/// The foundation-model id inside a model id, inference-profile id or ARN; `None` for an ARN
/// that does not name its model (application inference profiles, provisioned throughput).
pub(crate) fn model_part(id: &str) -> Option<&str> {
    let id = id.trim();
    let id = match id.strip_prefix("arn:") {
        // arn:partition:bedrock:region:account:resource — model ids contain ':' themselves.
        Some(rest) => {
            let resource = rest.splitn(5, ':').nth(4)?;
            resource
                .strip_prefix("foundation-model/")
                .or_else(|| resource.strip_prefix("inference-profile/"))?
        }
        None => id,
    };
    Some(REGION_PREFIXES.iter().find_map(|p| id.strip_prefix(p)).unwrap_or(id))
}

/// The rules for a model id, if it belongs to a known family.
pub(crate) fn lookup(id: &str) -> Option<&'static Rule> {
    let model = model_part(id)?;
    TABLE.iter().find(|rule| rule.prefixes.iter().any(|p| model.starts_with(p)))
}

impl Rule {
    pub(crate) fn capabilities(&self) -> Capabilities {
        let sampling = match self.sampling {
            Sampling::None => vec![],
            Sampling::All | Sampling::TemperatureOrTopP => vec!["temperature", "topP", "topK"],
        };
        Capabilities {
            reasoning: self.reasoning,
            sampling,
            temperature_with_top_p: self.sampling == Sampling::All,
            max_output_tokens: self.max_output_tokens,
            context_window: self.context_window,
            tools: self.tools,
            images: self.images,
            documents: self.documents,
            prompt_cache: self.prompt_cache,
        }
    }
}

/// What a client is told about a model this table does not know: what is configured is sent
/// as it is, so these are the cautious values of the oldest Claude.
pub(crate) fn unknown_capabilities() -> Capabilities {
    Capabilities {
        reasoning: ReasoningStyle::None,
        sampling: vec!["temperature", "topP"],
        temperature_with_top_p: true,
        images: false,
        documents: false,
        ..CLAUDE.capabilities()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(id: &str) -> Option<&'static str> {
        lookup(id).map(|rule| rule.family)
    }

    #[test]
    fn region_prefixes_are_stripped() {
        for prefix in ["", "us.", "eu.", "apac.", "global.", "us-gov.", "jp.", "au."] {
            let id = format!("{prefix}anthropic.claude-sonnet-4-5-20250929-v1:0");
            assert_eq!(family(&id), Some("Claude Sonnet 4.5"), "{id}");
        }
    }

    #[test]
    fn arns_name_their_model_unless_they_are_application_profiles() {
        let cases = [
            (
                "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                Some("Claude 3 Haiku"),
            ),
            (
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-7",
                Some("Claude Opus 4.7"),
            ),
            (
                "arn:aws-us-gov:bedrock:us-gov-west-1:1:inference-profile/us-gov.anthropic.claude-3-7-sonnet-20250219-v1:0",
                Some("Claude 3.7 Sonnet"),
            ),
            ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123", None),
            ("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/xyz", None),
        ];
        for (id, expected) in cases {
            assert_eq!(family(id), expected, "{id}");
        }
    }

    #[test]
    fn each_family_is_found_by_its_bedrock_id() {
        let cases = [
            ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
            ("anthropic.claude-3-opus-20240229-v1:0", "Claude 3 Sonnet/Opus"),
            ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku"),
            ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet v1"),
            ("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2"),
            ("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet"),
            ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4"),
            ("anthropic.claude-opus-4-20250514-v1:0", "Claude Opus 4"),
            ("anthropic.claude-opus-4-1-20250805-v1:0", "Claude Opus 4.1"),
            ("anthropic.claude-haiku-4-5-20251001-v1:0", "Claude Haiku 4.5"),
            ("anthropic.claude-opus-4-5-20251101-v1:0", "Claude Opus 4.5"),
            ("anthropic.claude-sonnet-4-6", "Claude Sonnet 4.6"),
            ("anthropic.claude-opus-4-6-v1", "Claude Opus 4.6"),
            ("anthropic.claude-opus-4-7", "Claude Opus 4.7"),
            ("amazon.nova-micro-v1:0", "Amazon Nova Micro"),
            ("amazon.nova-pro-v1:0", "Amazon Nova Lite/Pro"),
        ];
        for (id, expected) in cases {
            assert_eq!(family(id), Some(expected), "{id}");
        }
    }

    #[test]
    fn unknown_models_match_no_row() {
        for id in ["meta.llama3-70b-instruct-v1:0", "amazon.nova-2-lite-v1:0", "anthropic.claude-v2:1", ""] {
            assert_eq!(family(id), None, "{id}");
        }
    }

    #[test]
    fn capabilities_follow_the_row() {
        let opus47 = lookup("anthropic.claude-opus-4-7").unwrap().capabilities();
        assert!(opus47.sampling.is_empty());
        assert_eq!((opus47.reasoning, opus47.max_output_tokens), (ReasoningStyle::Adaptive, 128_000));
        let sonnet45 = lookup("anthropic.claude-sonnet-4-5-20250929-v1:0").unwrap().capabilities();
        assert!(!sonnet45.temperature_with_top_p);
        assert_eq!(sonnet45.reasoning, ReasoningStyle::Budget);
        assert!(!lookup("anthropic.claude-3-5-haiku-20241022-v1:0").unwrap().capabilities().images);
    }
}
