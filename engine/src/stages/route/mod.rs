//! Route stage: picks the model and prompt for a query — the default, or what a
//! rhai rule (`fn route(query)`) decides from the query, its features and the hits —
//! then the prompt's version: the one named, or one drawn from an A/B split.

pub mod features;
pub mod prompts;

use std::collections::BTreeMap;
use std::path::PathBuf;

use rhai::Map;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use self::features::QueryFeatures;
use self::prompts::SplitConfig;
use super::retrieve::Hit;
use super::{CompileCx, Run, Stage};
use crate::prompts::{Assignment, Prompt, PromptChoice, PromptFamily};
use crate::script::{Script, ScriptError, to_dynamic};
use crate::telemetry::spans;
use crate::vocab::diagnostic::Diagnostic;

/// Routing settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The model and prompt used when there is no script, or the script fails and
    /// `on_error` is `fallback`.
    pub default: RouteTargetConfig,
    /// A rhai script defining `fn route(query)`, relative to this file. It returns
    /// `#{ model: "...", prompt: "...", reason: "..." }` (`prompt` and `reason` optional).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub script: Option<Spanned<PathBuf>>,
    /// Prompts a script may choose besides the default's, e.g. `[legal/detailed]`; the
    /// script returns them exactly as written here.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub prompts: Vec<Spanned<String>>,
    /// A/B splits: prompts whose versions are served by weight, e.g.
    /// `[{ prompt: hr/answer, weights: { v1: 80, v2: 20 } }]`.
    #[serde(default)]
    pub splits: Vec<SplitConfig>,
    /// What a failing script (error, time limit, invalid decision) does: `fallback`
    /// (default: use `default`, with the error in the route's reason) or `fail` (the query fails).
    #[serde(default)]
    pub on_error: OnError,
}

/// What to do when a routing script fails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnError {
    /// Answer with the default route; the reason says why.
    #[default]
    Fallback,
    /// Fail the query with the script's error.
    Fail,
}

/// A model and a prompt.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteTargetConfig {
    /// A model name from `generate.models`. A prompt version whose front matter names a
    /// model is answered by that model instead.
    #[schemars(with = "String")]
    pub model: Spanned<String>,
    /// A prompt in the config directory's `prompts/`: `hr/answer` is the newest version
    /// in `prompts/hr/answer/` (`v1.md`, `v2.md`, ...) or the file `prompts/hr/answer.md`;
    /// `hr/answer@v2` pins one version.
    #[schemars(with = "String")]
    pub prompt: Spanned<String>,
}

/// The checked route stage.
#[derive(Debug, Clone)]
pub struct RouteStage {
    pub default: RouteTarget,
    pub script: Option<Script>,
    /// Every prompt a route may use, by reference as written (the default's included).
    pub prompts: BTreeMap<String, PromptChoice>,
    /// Every version of every prompt the route names, by prompt name.
    pub families: BTreeMap<String, PromptFamily>,
    /// Model names a route may use.
    pub models: Vec<String>,
    pub on_error: OnError,
}

/// Where a query goes.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    pub model: String,
    /// As written in the pipeline file, e.g. `hr/answer`.
    pub reference: String,
    pub prompt: PromptChoice,
}

/// What a route script sees.
#[derive(Debug, Clone, Serialize)]
pub struct RouteInput {
    pub text: String,
    /// Domains the request asked for (empty: the pipeline's own).
    pub domains: Vec<String>,
    /// The caller's role, when the request names one.
    pub role: String,
    pub pipeline: String,
    pub features: QueryFeatures,
    pub hits: Vec<RouteHit>,
}

impl RouteInput {
    /// What a route script sees of `question`, asked of `pipeline` by `role` for
    /// `domains`, and of its hits.
    pub fn new(pipeline: &str, question: &str, hits: &[Hit], domains: Vec<String>, role: String) -> Self {
        Self {
            features: QueryFeatures::of(question),
            text: question.to_owned(),
            domains,
            role,
            pipeline: pipeline.to_owned(),
            hits: hits
                .iter()
                .map(|h| RouteHit {
                    domain: h.domain.clone(),
                    title: h.title.clone(),
                    score: f64::from(h.score),
                })
                .collect(),
        }
    }
}

/// One retrieved chunk as a route script sees it.
#[derive(Debug, Clone, Serialize)]
pub struct RouteHit {
    pub domain: String,
    pub title: String,
    pub score: f64,
}

/// A routing decision.
#[derive(Debug, Clone)]
pub struct Decision {
    pub model: String,
    /// The version that answers.
    pub prompt: Prompt,
    /// How that version was chosen.
    pub assignment: Assignment,
    pub reason: String,
    /// Who chose the model.
    pub chosen: Chosen,
}

/// Who chose a route's model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    /// The default route: the pipeline has no script.
    Default,
    /// The route script.
    Script,
    /// The default route, because the script failed.
    ScriptFailed,
}

impl Chosen {
    /// `default`, `script` or `script_error`, as metrics name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Script => "script",
            Self::ScriptFailed => "script_error",
        }
    }
}

/// Why a route could not be decided.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    #[error(transparent)]
    Script(#[from] ScriptError),
    #[error("{path}: route chose {what}")]
    Invalid { path: String, what: String },
}

impl RouteConfig {
    /// Check the route settings against the defined `models`. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>, models: &[&str]) -> Option<RouteStage> {
        let t = &self.default;
        if !models.contains(&t.model.value.as_str()) {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.model,
                "route.default.model",
                format!(
                    "model `{}` is not defined in generate.models (defined: {})",
                    t.model.value,
                    models.join(", ")
                ),
            ));
        }
        let prompts = prompts::compile(cx, &t.prompt, &self.prompts, &self.splits, models);
        let script = self.script.as_ref().and_then(|s| {
            let path = cx.resolve(&s.value);
            if !path.is_file() {
                cx.push(Diagnostic::spanned(
                    cx.file,
                    s,
                    "route.script",
                    format!("script not found: {}", path.display()),
                ));
                return None;
            }
            Script::load(&path, "route").map_err(|d| cx.push(d)).ok()
        });
        let prompts = prompts?;
        Some(RouteStage {
            default: RouteTarget {
                model: t.model.value.clone(),
                reference: t.prompt.value.clone(),
                prompt: prompts.default,
            },
            script,
            prompts: prompts.declared,
            families: prompts.families,
            models: models.iter().map(|m| (*m).to_owned()).collect(),
            on_error: self.on_error,
        })
    }
}

impl Stage for RouteStage {
    fn name(&self) -> &'static str {
        "route"
    }

    /// The script, and each prompt's directory (or single file) and versions.
    fn files_to_watch(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = self.script.iter().map(|s| s.path.clone()).collect();
        for family in self.families.values() {
            files.push(family.path.clone());
            files.extend(family.versions.iter().map(|p| p.file.clone()));
        }
        files
    }
}

/// Decide where the input goes; the key (the caller's user or session) keeps A/B
/// splits sticky. Without a script: the default. A failing script falls back to the
/// default (with the error as the reason) unless `on_error: fail`, when it is an error.
impl Run for RouteStage {
    type Input<'a> = (&'a RouteInput, Option<&'a str>);
    type Output = Decision;
    type Error = RouteError;

    fn run(&self, (input, key): Self::Input<'_>) -> Result<Decision, RouteError> {
        let decision = self.decide(input, key)?;
        spans::routed(
            &tracing::Span::current(),
            &decision.model,
            decision.chosen.as_str(),
            &decision.prompt.id,
        );
        Ok(decision)
    }
}

impl RouteStage {
    fn decide(&self, input: &RouteInput, key: Option<&str>) -> Result<Decision, RouteError> {
        let Some(script) = &self.script else {
            return Ok(self.fallback("default route".to_owned(), Chosen::Default, key));
        };
        match self.run_script(script, input, key) {
            Ok(d) => Ok(d),
            Err(e) if self.on_error == OnError::Fallback => {
                tracing::warn!(script = %script.path.display(), error = %e, "route script failed; using the default route");
                Ok(self.fallback(format!("default route (script failed: {e})"), Chosen::ScriptFailed, key))
            }
            Err(e) => Err(e),
        }
    }

    /// The default route; a version naming its own model is answered by that model.
    fn fallback(&self, reason: String, chosen: Chosen, key: Option<&str>) -> Decision {
        let (prompt, assignment) = self.default.prompt.pick(key);
        Decision {
            model: prompt
                .model
                .as_ref()
                .map_or_else(|| self.default.model.clone(), |m| m.value.clone()),
            prompt: prompt.clone(),
            assignment,
            reason,
            chosen,
        }
    }

    fn run_script(&self, script: &Script, input: &RouteInput, key: Option<&str>) -> Result<Decision, RouteError> {
        let out = script.call("route", to_dynamic(input))?;
        let expected = r#"a map like #{ model: "lite", prompt: "hr/answer", reason: "short question" }"#;
        let Some(map) = out.clone().try_cast::<Map>() else {
            return Err(script.wrong_return("route", &out, expected).into());
        };
        let invalid = |what: String| RouteError::Invalid {
            path: script.path.display().to_string(),
            what,
        };
        let text = |key: &str| -> Result<Option<String>, RouteError> {
            match map.get(key) {
                None => Ok(None),
                Some(v) => v
                    .clone()
                    .into_string()
                    .map(Some)
                    .map_err(|t| invalid(format!("`{key}` of type {t}; it must be a string"))),
            }
        };
        if let Some(key) = map
            .keys()
            .find(|k| !["model", "prompt", "reason"].contains(&k.as_str()))
        {
            return Err(invalid(format!(
                "an unknown key `{key}` (expected model, prompt, reason)"
            )));
        }
        let model = text("model")?.ok_or_else(|| invalid("no `model`".to_owned()))?;
        if !self.models.contains(&model) {
            return Err(invalid(format!(
                "model `{model}`, which is not in generate.models ({})",
                self.models.join(", ")
            )));
        }
        let choice = match text("prompt")? {
            None => &self.default.prompt,
            Some(name) => self.prompts.get(&name).ok_or_else(|| {
                let known: Vec<&str> = self.prompts.keys().map(String::as_str).collect();
                invalid(format!(
                    "prompt `{name}`, which is not declared in route.prompts ({})",
                    known.join(", ")
                ))
            })?,
        };
        let (prompt, assignment) = choice.pick(key);
        let reason = text("reason")?.unwrap_or_else(|| format!("chosen by {}", file_name(script)));
        Ok(Decision {
            model,
            prompt: prompt.clone(),
            assignment,
            reason,
            chosen: Chosen::Script,
        })
    }
}

fn file_name(script: &Script) -> String {
    script
        .path
        .file_name()
        .map_or_else(|| "script".to_owned(), |n| n.to_string_lossy().into_owned())
}
