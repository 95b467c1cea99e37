//! Route stage: picks the model and prompt for a query. Today a static default;
//! rhai rules plug in here.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use super::CompileCx;
use crate::config::Diagnostic;
use crate::prompts::Prompt;

/// Routing settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The model and prompt used when no rule decides otherwise.
    pub default: RouteTargetConfig,
}

/// A model and a prompt.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RouteTargetConfig {
    /// A model name from `generate.models`.
    #[schemars(with = "String")]
    pub model: Spanned<String>,
    /// A prompt name: `hr/answer` is the file `prompts/hr/answer.md` in the config directory.
    #[schemars(with = "String")]
    pub prompt: Spanned<String>,
}

/// The checked route stage.
#[derive(Debug, Clone)]
pub struct RouteStage {
    pub default: RouteTarget,
}

/// Where a query goes.
#[derive(Debug, Clone)]
pub struct RouteTarget {
    pub model: String,
    pub prompt: Prompt,
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
        let prompt = if !is_prompt_name(&t.prompt.value) {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.prompt,
                "route.default.prompt",
                format!(
                    "`{}` is not a prompt name: use path segments of letters, digits, `-` and `_`, like `hr/answer`",
                    t.prompt.value
                ),
            ));
            None
        } else if !Prompt::path_for(cx.config_dir, &t.prompt.value).is_file() {
            cx.push(Diagnostic::spanned(
                cx.file,
                &t.prompt,
                "route.default.prompt",
                format!(
                    "prompt file not found: {}",
                    Prompt::path_for(cx.config_dir, &t.prompt.value).display()
                ),
            ));
            None
        } else {
            match Prompt::load(cx.config_dir, &t.prompt.value) {
                Ok(p) => Some(p),
                Err(d) => {
                    cx.push(d);
                    None
                }
            }
        };
        prompt.map(|prompt| RouteStage {
            default: RouteTarget {
                model: t.model.value.clone(),
                prompt,
            },
        })
    }
}

/// A prompt name is a relative path of simple segments; `..` and absolute paths are refused.
fn is_prompt_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .split('/')
            .all(|seg| !seg.is_empty() && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}
