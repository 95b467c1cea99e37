//! `guardrails:` in a pipeline file, and its compilation into the guard chain.
//!
//! ```yaml
//! guardrails:
//!   pii: { action: mask }                       # [SSN], [EMAIL], [PHONE] in query, answer, sources
//!   content_filter: { terms: ["project falcon"], patterns: ['acct-\d{6}'], action: block }
//!   denied_topics:
//!     - { name: investment advice, keywords: [stock tips, crypto, "which stocks"] }
//!   refusal_message: "Sorry, I can only answer questions about HR policy."
//!   bedrock: { guardrail_id: gr1abc, version: "1", aws: { region: us-east-1 } }
//! ```

use std::collections::BTreeSet;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::bedrock::BedrockGuard;
use super::content_filter::ContentFilter;
use super::phrases::Phrase;
use super::pii::{PiiGuard, PiiKind};
use super::topics::{DeniedTopics, Topic};
use super::{DEFAULT_REFUSAL, GuardChain, GuardStage, LocalGuard, Sides};
use crate::providers::guardrail::BedrockGuardrail;
use crate::stages::CompileCx;
use crate::stages::remote::{AwsTargetConfig, RetryConfig, compile_policy};
use crate::vocab::diagnostic::Diagnostic;

/// Checks on the query (before retrieval and generation) and on the answer (before it
/// is returned). Each intervention is reported in the response's `guardrail` field and
/// counted per pipeline. A refused query is answered with `refusal_message`, with HTTP
/// 200 and `guardrail.action: blocked`, and never reaches the model.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailsConfig {
    /// Personal data: US social security numbers, e-mail addresses and US phone numbers.
    #[serde(default)]
    pub pii: Option<PiiConfig>,
    /// A deny list of terms and patterns.
    #[serde(default)]
    pub content_filter: Option<ContentFilterConfig>,
    /// Topics this pipeline does not discuss; a query (or answer) on one is refused.
    #[serde(default)]
    pub denied_topics: Vec<DeniedTopicConfig>,
    /// The answer given when a guard blocks (default: "Sorry, I can't help with that
    /// request."). Bedrock blocks answer with the guardrail's own blocked message.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub refusal_message: Option<Spanned<String>>,
    /// Amazon Bedrock Guardrails, applied through `ApplyGuardrail` after the local guards
    /// (so it never sees what they masked): the query as `INPUT`, the answer as `OUTPUT`.
    #[serde(default)]
    pub bedrock: Option<BedrockGuardrailConfig>,
}

/// The texts a guard checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GuardTarget {
    /// The question, before retrieval and generation (and before it is logged).
    Query,
    /// The generated answer, and (for masking guards) the source texts returned with it.
    Answer,
}

/// What a guard does with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FindingAction {
    /// Replace it with a placeholder and go on.
    Mask,
    /// Refuse: the answer is the refusal message.
    Block,
}

/// Kinds of personal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PiiKindConfig {
    /// US social security numbers: `123-45-6789`, `123 45 6789`, or nine digits right
    /// after `SSN`; never-issued numbers (area 000, 666, 9xx; group 00; serial 0000) are not.
    Ssn,
    /// E-mail addresses.
    Email,
    /// US phone numbers: `(555) 234-5678`, `555-234-5678`, `555.234.5678`,
    /// `555 234 5678`, with an optional `1`/`+1`, or `+15552345678`.
    Phone,
}

/// PII masking.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PiiConfig {
    /// What to look for (default: all of `ssn`, `email`, `phone`).
    #[serde(default)]
    #[schemars(with = "Option<Vec<PiiKindConfig>>")]
    pub kinds: Option<Spanned<Vec<PiiKindConfig>>>,
    /// `mask` (default) replaces each finding with `[SSN]`, `[EMAIL]` or `[PHONE]`;
    /// `block` refuses the query or answer.
    #[serde(default)]
    pub action: Option<FindingAction>,
    /// Which texts to check: `query`, `answer` (default: both).
    #[serde(default)]
    #[schemars(with = "Option<Vec<GuardTarget>>")]
    pub apply_to: Option<Spanned<Vec<GuardTarget>>>,
}

/// A deny list. Terms match whole words or phrases in any case; patterns are regular
/// expressions (Rust `regex` syntax), matched case-insensitively.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentFilterConfig {
    /// Words or phrases, e.g. `project falcon`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub terms: Vec<Spanned<String>>,
    /// Regular expressions, e.g. `acct-\d{6}`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub patterns: Vec<Spanned<String>>,
    /// `block` (default) refuses the query or answer; `mask` replaces each match with `[REDACTED]`.
    #[serde(default)]
    pub action: Option<FindingAction>,
    /// Which texts to check: `query`, `answer` (default: both).
    #[serde(default)]
    #[schemars(with = "Option<Vec<GuardTarget>>")]
    pub apply_to: Option<Spanned<Vec<GuardTarget>>>,
}

/// A topic the pipeline refuses.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeniedTopicConfig {
    /// Name, reported in `guardrail.reasons[].what`.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    /// Words or phrases that put a text on this topic (whole words, any case), e.g.
    /// `[stock tips, crypto, which stocks]`.
    #[schemars(with = "Vec<String>")]
    pub keywords: Vec<Spanned<String>>,
    /// Which texts to check: `query`, `answer` (default: both).
    #[serde(default)]
    #[schemars(with = "Option<Vec<GuardTarget>>")]
    pub apply_to: Option<Spanned<Vec<GuardTarget>>>,
}

/// An Amazon Bedrock guardrail. Credentials come from the standard AWS chain.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BedrockGuardrailConfig {
    /// The guardrail's id (e.g. `gr1abc2def3`) or ARN.
    #[schemars(with = "String")]
    pub guardrail_id: Spanned<String>,
    /// The guardrail version: a number such as `"1"`, or `DRAFT`.
    #[schemars(with = "String")]
    pub version: Spanned<String>,
    /// Where to reach Bedrock.
    #[serde(default)]
    pub aws: AwsTargetConfig,
    /// Longest single call, in milliseconds (default 60000).
    #[serde(default)]
    #[schemars(with = "Option<u64>")]
    pub timeout_ms: Option<Spanned<u64>>,
    /// How throttling, 5xx and timeouts are retried. When the guardrail still cannot be
    /// applied, the query fails (502/503): a safety check is never skipped.
    #[serde(default)]
    pub retry: Option<RetryConfig>,
    /// Which texts to check: `query` (as `INPUT`), `answer` (as `OUTPUT`) (default: both).
    #[serde(default)]
    #[schemars(with = "Option<Vec<GuardTarget>>")]
    pub apply_to: Option<Spanned<Vec<GuardTarget>>>,
}

impl GuardrailsConfig {
    /// Check every guard and build the chain. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> GuardStage {
        let mut local: Vec<Arc<dyn LocalGuard>> = Vec::new();
        if let Some(filter) = &self.content_filter {
            local.extend(compile_filter(cx, filter));
        }
        if !self.denied_topics.is_empty() {
            local.push(Arc::new(compile_topics(cx, &self.denied_topics)));
        }
        if let Some(pii) = &self.pii {
            local.extend(compile_pii(cx, pii));
        }
        let bedrock = self.bedrock.as_ref().map(|b| Arc::new(compile_bedrock(cx, b)));
        let refusal_message = match &self.refusal_message {
            Some(m) if m.value.trim().is_empty() => {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    m,
                    "guardrails.refusal_message",
                    "refusal_message must not be empty",
                ));
                DEFAULT_REFUSAL.to_owned()
            }
            Some(m) => m.value.trim().to_owned(),
            None => DEFAULT_REFUSAL.to_owned(),
        };
        GuardStage {
            chain: GuardChain::new(local, bedrock),
            refusal_message,
        }
    }
}

/// Which texts `apply_to` names (both when unset).
fn sides(cx: &mut CompileCx<'_>, key: &str, apply_to: Option<&Spanned<Vec<GuardTarget>>>) -> Sides {
    let Some(list) = apply_to else {
        return Sides::default();
    };
    if list.value.is_empty() {
        cx.push(Diagnostic::spanned(
            cx.file,
            list,
            format!("{key}.apply_to"),
            "apply_to must name `query`, `answer` or both",
        ));
        return Sides::default();
    }
    Sides {
        query: list.value.contains(&GuardTarget::Query),
        answer: list.value.contains(&GuardTarget::Answer),
    }
}

fn compile_pii(cx: &mut CompileCx<'_>, pii: &PiiConfig) -> Option<Arc<dyn LocalGuard>> {
    let key = "guardrails.pii";
    let all = [PiiKind::Ssn, PiiKind::Email, PiiKind::Phone];
    let kinds: Vec<PiiKind> = match &pii.kinds {
        None => all.to_vec(),
        Some(list) if list.value.is_empty() => {
            cx.push(Diagnostic::spanned(
                cx.file,
                list,
                format!("{key}.kinds"),
                "kinds must name at least one of `ssn`, `email`, `phone`",
            ));
            all.to_vec()
        }
        Some(list) => list
            .value
            .iter()
            .map(|k| match k {
                PiiKindConfig::Ssn => PiiKind::Ssn,
                PiiKindConfig::Email => PiiKind::Email,
                PiiKindConfig::Phone => PiiKind::Phone,
            })
            .collect(),
    };
    let sides = sides(cx, key, pii.apply_to.as_ref());
    let block = pii.action == Some(FindingAction::Block);
    match PiiGuard::new(&kinds, block, sides) {
        Ok(g) => Some(Arc::new(g)),
        Err(e) => {
            cx.push(Diagnostic::file(cx.file, format!("{key}: internal pattern error: {e}")));
            None
        }
    }
}

fn compile_filter(cx: &mut CompileCx<'_>, filter: &ContentFilterConfig) -> Option<Arc<dyn LocalGuard>> {
    let key = "guardrails.content_filter";
    let mut deny = Vec::new();
    for (i, term) in filter.terms.iter().enumerate() {
        match Phrase::term(&term.value) {
            Ok(p) => deny.push(p),
            Err(e) => cx.push(Diagnostic::spanned(cx.file, term, format!("{key}.terms[{i}]"), e)),
        }
    }
    for (i, pattern) in filter.patterns.iter().enumerate() {
        match Phrase::pattern(&pattern.value) {
            Ok(p) => deny.push(p),
            Err(e) => cx.push(Diagnostic::spanned(
                cx.file,
                pattern,
                format!("{key}.patterns[{i}]"),
                format!("invalid regular expression: {e}"),
            )),
        }
    }
    let sides = sides(cx, key, filter.apply_to.as_ref());
    if filter.terms.is_empty() && filter.patterns.is_empty() {
        cx.push(Diagnostic::file(
            cx.file,
            format!("{key}: give at least one of `terms` or `patterns`"),
        ));
        return None;
    }
    let block = filter.action != Some(FindingAction::Mask);
    Some(Arc::new(ContentFilter::new(deny, block, sides)))
}

fn compile_topics(cx: &mut CompileCx<'_>, topics: &[DeniedTopicConfig]) -> DeniedTopics {
    let mut names = BTreeSet::new();
    let mut out = Vec::new();
    for (i, t) in topics.iter().enumerate() {
        let key = format!("guardrails.denied_topics[{i}]");
        let name = t.name.value.trim().to_owned();
        if name.is_empty() {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.name,
                format!("{key}.name"),
                "a topic needs a name",
            ));
        } else if !names.insert(name.clone()) {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.name,
                format!("{key}.name"),
                format!("topic `{name}` is listed twice"),
            ));
        }
        if t.keywords.is_empty() {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.name,
                format!("{key}.keywords"),
                format!("topic `{name}` needs at least one keyword"),
            ));
        }
        let mut keywords = Vec::new();
        for (j, k) in t.keywords.iter().enumerate() {
            match Phrase::term(&k.value) {
                Ok(p) => keywords.push(p),
                Err(e) => cx.push(Diagnostic::spanned(cx.file, k, format!("{key}.keywords[{j}]"), e)),
            }
        }
        let sides = sides(cx, &key, t.apply_to.as_ref());
        out.push(Topic { name, keywords, sides });
    }
    DeniedTopics::new(out)
}

fn compile_bedrock(cx: &mut CompileCx<'_>, b: &BedrockGuardrailConfig) -> BedrockGuard {
    let key = "guardrails.bedrock";
    let id = b.guardrail_id.value.trim();
    if id.is_empty() || id.chars().any(char::is_whitespace) {
        cx.push(Diagnostic::spanned(
            cx.file,
            &b.guardrail_id,
            format!("{key}.guardrail_id"),
            format!("`{id}` is not a guardrail id or ARN"),
        ));
    }
    let version = b.version.value.trim();
    let numbered =
        (1..=8).contains(&version.len()) && version.chars().all(|c| c.is_ascii_digit()) && !version.starts_with('0');
    if !(numbered || version == "DRAFT") {
        cx.push(Diagnostic::spanned(
            cx.file,
            &b.version,
            format!("{key}.version"),
            format!("`{version}` is not a guardrail version: use a number such as \"1\", or DRAFT"),
        ));
    }
    let policy = compile_policy(cx, key, b.retry.as_ref(), b.timeout_ms.as_ref());
    let sides = sides(cx, key, b.apply_to.as_ref());
    let target = b.aws.compile(cx, &format!("{key}.aws"));
    BedrockGuard {
        guardrail: BedrockGuardrail::new(id.to_owned(), version.to_owned(), target, policy),
        sides,
    }
}

#[cfg(test)]
mod tests;
