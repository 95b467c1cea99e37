use std::path::Path;

use super::*;
use crate::stages::guard::{GuardAction, GuardSide};
use crate::vocab::{PriceTable, from_yaml};

fn compile(yaml: &str) -> Result<GuardStage, String> {
    let file = Path::new("p.yaml");
    let raw: GuardrailsConfig = from_yaml(file, yaml).map_err(|d| d.to_string())?;
    let pricing = PriceTable::none();
    let mut cx = CompileCx {
        file,
        config_dir: Path::new("."),
        pricing: &pricing,
        diagnostics: Vec::new(),
    };
    let stage = raw.compile(&mut cx);
    if cx.diagnostics.is_empty() {
        Ok(stage)
    } else {
        Err(cx
            .diagnostics
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

#[tokio::test]
async fn a_full_config_compiles_in_order() {
    let stage = compile(
        "pii: { action: mask }\ncontent_filter: { terms: [project falcon], patterns: ['acct-\\d{6}'] }\n\
         denied_topics:\n  - { name: investment advice, keywords: [stock tips, crypto] }\n\
         refusal_message: No.\nbedrock: { guardrail_id: gr1, version: DRAFT, aws: { endpoint_url: 'http://127.0.0.1:9/' }, apply_to: [query] }\n",
    )
    .unwrap();
    assert_eq!(
        stage.chain.names(),
        ["content_filter", "denied_topic", "pii", "bedrock"]
    );
    assert_eq!(stage.refusal_message, "No.");
    let bedrock = stage.chain.bedrock().unwrap();
    assert_eq!(bedrock.guardrail.label(), "bedrock-guardrail/gr1@DRAFT");
    assert!(!bedrock.sides.answer);
    let local = GuardStage {
        chain: compile("pii: {}\n").unwrap().chain,
        ..GuardStage::default()
    };
    let c = local.chain.check("mail a@b.com", GuardSide::Answer).await.unwrap();
    assert_eq!(c.action, GuardAction::Masked);
    assert_eq!(local.refusal_message, DEFAULT_REFUSAL);
}

#[test]
fn numeric_versions_parse_as_strings() {
    let stage = compile("bedrock: { guardrail_id: gr1, version: 3 }\n").unwrap();
    assert_eq!(stage.chain.bedrock().unwrap().guardrail.version, "3");
}

#[test]
fn bad_values_are_located() {
    let err = compile(
        "pii: { kinds: [] }\ncontent_filter: { patterns: ['(x'] }\n\
         denied_topics:\n  - { name: a, keywords: [] }\n  - { name: a, keywords: [b], apply_to: [] }\n\
         bedrock: { guardrail_id: 'g 1', version: v1, aws: { endpoint_url: ftp://x } }\n",
    )
    .unwrap_err();
    for want in [
        "p.yaml:1:15: guardrails.pii.kinds: kinds must name at least one",
        "p.yaml:2:30: guardrails.content_filter.patterns[0]: invalid regular expression",
        "guardrails.denied_topics[0].keywords: topic `a` needs at least one keyword",
        "guardrails.denied_topics[1].name: topic `a` is listed twice",
        "guardrails.denied_topics[1].apply_to: apply_to must name",
        "guardrails.bedrock.guardrail_id: `g 1` is not a guardrail id",
        "guardrails.bedrock.version: `v1` is not a guardrail version",
        "guardrails.bedrock.aws.endpoint_url: `ftp://x` is not an http",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // A region is checked for its shape, unless an endpoint (an S3-compatible or test
    // server) takes any name.
    let err = compile("bedrock: { guardrail_id: gr1, version: \"1\", aws: { region: useast1 } }\n").unwrap_err();
    assert!(
        err.contains("p.yaml:1:60: guardrails.bedrock.aws.region: `useast1` is not an AWS region"),
        "{err}"
    );
    let odd =
        "bedrock: { guardrail_id: gr1, version: \"1\", aws: { region: auto, endpoint_url: 'http://127.0.0.1:9' } }\n";
    assert!(compile(odd).is_ok());
    let err = compile("pii: { kinds: [passport] }\n").unwrap_err();
    assert!(err.contains("passport"), "{err}");
    let err = compile("content_filter: {}\n").unwrap_err();
    assert!(err.contains("at least one of `terms` or `patterns`"), "{err}");
}
