//! One prompt version: a file compiled as a strict minijinja template, with its
//! front matter and the content hash that identifies it in responses and logs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use sha2::{Digest, Sha256};

use super::front_matter;
use crate::vocab::diagnostic::Diagnostic;

/// Variables a prompt may use.
pub const VARIABLES: &[&str] = &["question", "context", "sources", "pipeline"];

/// Which prompt text answered: name, version and content hash.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PromptVersion {
    /// Prompt name, e.g. `hr/answer`.
    pub name: String,
    /// Version, e.g. `v2` (the file `prompts/hr/answer/v2.md`); null for a single-file prompt.
    pub version: Option<String>,
    /// First 12 hex digits of the sha256 of the file: the exact text used.
    pub hash: String,
}

impl fmt::Display for PromptVersion {
    /// `hr/answer@v2#1a2b3c4d5e6f`, or `hr/answer#1a2b3c4d5e6f` for a single-file prompt.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.version {
            write!(f, "@{v}")?;
        }
        write!(f, "#{}", self.hash)
    }
}

/// A compiled prompt version.
#[derive(Clone)]
pub struct Prompt {
    pub id: PromptVersion,
    pub file: PathBuf,
    /// From the front matter.
    pub description: String,
    /// The model this version is written for (front matter `model`), located in the file.
    pub model: Option<Spanned<String>>,
    env: Arc<Environment<'static>>,
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt").field("id", &self.id.to_string()).finish()
    }
}

/// One retrieved source as a prompt sees it.
#[derive(Debug, Clone, Serialize)]
pub struct PromptSource {
    pub n: usize,
    pub title: String,
    pub text: String,
    pub page: Option<u32>,
    pub section: Option<String>,
}

/// Why a prompt could not be rendered.
#[derive(Debug, thiserror::Error)]
#[error("prompt {prompt}: {source}")]
pub struct RenderError {
    prompt: String,
    source: minijinja::Error,
}

/// Name of the one template in a prompt's environment.
const TEMPLATE: &str = "prompt";

impl Prompt {
    /// Read and compile `file` as version `version` of prompt `name`.
    ///
    /// # Errors
    /// Diagnostics located in the file: unreadable file, bad front matter, template
    /// syntax errors, and variables outside [`VARIABLES`] or the declared `variables`.
    pub fn load(file: &Path, name: &str, version: Option<&str>) -> Result<Prompt, Diagnostic> {
        let text =
            std::fs::read_to_string(file).map_err(|e| Diagnostic::file(file, format!("cannot read prompt: {e}")))?;
        let hash = hex::encode(Sha256::digest(text.as_bytes()))[..12].to_owned();
        let parts = front_matter::split(file, &text)?;
        let allowed: Vec<String> = match &parts.meta.variables {
            None => VARIABLES.iter().map(|v| (*v).to_owned()).collect(),
            Some(declared) => {
                if let Some(bad) = declared.iter().find(|v| !VARIABLES.contains(&v.value.as_str())) {
                    return Err(Diagnostic::spanned(
                        file,
                        bad,
                        "variables",
                        format!(
                            "`{}` is not a prompt variable (a prompt may use: {})",
                            bad.value,
                            VARIABLES.join(", ")
                        ),
                    ));
                }
                declared.iter().map(|v| v.value.clone()).collect()
            }
        };
        let offset = parts.body_line_offset;
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned(TEMPLATE, parts.body.to_owned())
            .map_err(|e| template_diagnostic(file, &e, offset))?;
        let template = env
            .get_template(TEMPLATE)
            .map_err(|e| template_diagnostic(file, &e, offset))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !allowed.contains(v))
            .collect();
        unknown.sort();
        if let Some(var) = unknown.first() {
            let (line, column) = find(parts.body, var);
            let message = if VARIABLES.contains(&var.as_str()) {
                format!(
                    "variable `{var}` is not declared in the front matter's `variables` ({})",
                    allowed.join(", ")
                )
            } else {
                format!("unknown variable `{var}` (a prompt may use: {})", VARIABLES.join(", "))
            };
            return Err(Diagnostic {
                file: file.to_path_buf(),
                line: line + offset,
                column,
                key_path: String::new(),
                message,
            });
        }
        Ok(Prompt {
            id: PromptVersion {
                name: name.to_owned(),
                version: version.map(str::to_owned),
                hash,
            },
            file: file.to_path_buf(),
            description: parts.meta.description,
            model: parts.meta.model,
            env: Arc::new(env),
        })
    }

    /// Prompt name, e.g. `hr/answer`.
    pub fn name(&self) -> &str {
        &self.id.name
    }

    /// Render the prompt for one question.
    ///
    /// # Errors
    /// [`RenderError`] when the template fails at run time (e.g. a filter error).
    pub fn render(&self, pipeline: &str, question: &str, sources: &[PromptSource]) -> Result<String, RenderError> {
        let context = sources
            .iter()
            .map(|s| format!("[{}] {}\n{}", s.n, s.title, s.text.trim()))
            .collect::<Vec<_>>()
            .join("\n\n");
        let err = |source| RenderError {
            prompt: self.id.to_string(),
            source,
        };
        let template = self.env.get_template(TEMPLATE).map_err(err)?;
        template
            .render(minijinja::context! { question, context, pipeline, sources => minijinja::Value::from(minijinja::value::Serde(sources)) })
            .map_err(err)
    }
}

fn template_diagnostic(file: &Path, e: &minijinja::Error, offset: u64) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: e.line().map_or(1, |l| l as u64) + offset,
        column: 1,
        key_path: String::new(),
        message: format!("template: {}", e.detail().unwrap_or("syntax error")),
    }
}

/// 1-based line and column of the first occurrence of `needle`, or 1:1.
fn find(text: &str, needle: &str) -> (u64, u64) {
    text.lines()
        .enumerate()
        .find_map(|(i, l)| {
            l.find(needle)
                .map(|c| (i as u64 + 1, l[..c].chars().count() as u64 + 1))
        })
        .unwrap_or((1, 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Prompt, Diagnostic> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("v1.md");
        std::fs::write(&file, text).unwrap();
        Prompt::load(&file, "hr/answer", Some("v1"))
    }

    #[test]
    fn renders_question_and_numbered_context() {
        let p = load("Q: {{ question }}\n{{ context }}\n{% for s in sources %}<{{ s.n }}>{% endfor %}").unwrap();
        let src = [PromptSource {
            n: 1,
            title: "Leave".into(),
            text: "25 days".into(),
            page: None,
            section: None,
        }];
        let out = p.render("hr", "days?", &src).unwrap();
        assert_eq!(out, "Q: days?\n[1] Leave\n25 days\n<1>");
        assert_eq!(p.id.hash.len(), 12);
        assert_eq!(p.id.to_string(), format!("hr/answer@v1#{}", p.id.hash));
    }

    #[test]
    fn front_matter_is_not_rendered_and_is_hashed() {
        let a = load("---\ndescription: terse\nmodel: lite\n---\nQ: {{ question }}").unwrap();
        assert_eq!(a.render("hr", "x", &[]).unwrap(), "Q: x");
        assert_eq!(a.description, "terse");
        assert_eq!(a.model.as_ref().unwrap().value, "lite");
        let b = load("---\ndescription: other\nmodel: lite\n---\nQ: {{ question }}").unwrap();
        assert_ne!(a.id.hash, b.id.hash);
    }

    #[test]
    fn unknown_variable_is_located() {
        let d = load("Hello\n  {{ questoin }}\n").unwrap_err();
        assert_eq!((d.line, d.column), (2, 6));
        assert!(d.message.contains("unknown variable `questoin`"), "{}", d.message);
        // Below front matter, lines count from the top of the file.
        let d = load("---\ndescription: x\n---\nHello\n  {{ questoin }}\n").unwrap_err();
        assert_eq!((d.line, d.column), (5, 6));
    }

    #[test]
    fn undeclared_variable_and_bad_declaration() {
        let d = load("---\nvariables: [question]\n---\n{{ question }} {{ context }}").unwrap_err();
        assert_eq!(d.line, 4);
        assert!(d.message.contains("`context` is not declared"), "{}", d.message);
        let d = load("---\nvariables: [question, user]\n---\n{{ question }}").unwrap_err();
        assert_eq!((d.line, d.column), (2, 23), "{d}");
        assert!(d.message.contains("`user` is not a prompt variable"), "{}", d.message);
    }

    #[test]
    fn syntax_error_has_line() {
        let d = load("ok\n{% if %}\n").unwrap_err();
        assert_eq!(d.line, 2);
        let d = load("---\ndescription: x\n---\nok\n{% if %}\n").unwrap_err();
        assert_eq!(d.line, 5);
    }
}
