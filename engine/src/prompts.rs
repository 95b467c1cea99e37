//! Prompt files: `prompts/<name>.md` under the config directory, rendered with
//! minijinja. Templates may use `question`, `context` (numbered sources, ready to
//! paste), `sources` (a list of `{n, title, text, page, section}`) and `pipeline`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::config::Diagnostic;

/// Variables a prompt may use.
pub const VARIABLES: &[&str] = &["question", "context", "sources", "pipeline"];

/// A compiled prompt.
#[derive(Clone)]
pub struct Prompt {
    /// Name as the pipeline refers to it, e.g. `hr/answer`.
    pub name: String,
    pub file: PathBuf,
    /// First 12 hex digits of the sha256 of the file, so a response names the exact text used.
    pub hash: String,
    env: Arc<Environment<'static>>,
}

impl std::fmt::Debug for Prompt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name)
            .field("hash", &self.hash)
            .finish()
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
#[error("prompt {name}: {source}")]
pub struct RenderError {
    name: String,
    source: minijinja::Error,
}

impl Prompt {
    /// The file a prompt name refers to.
    pub fn path_for(config_dir: &Path, name: &str) -> PathBuf {
        config_dir.join("prompts").join(format!("{name}.md"))
    }

    /// Read and compile `prompts/<name>.md`.
    ///
    /// # Errors
    /// Diagnostics located in the prompt file: unreadable file, template syntax
    /// errors, and variables other than [`VARIABLES`].
    pub fn load(config_dir: &Path, name: &str) -> Result<Prompt, Diagnostic> {
        let file = Self::path_for(config_dir, name);
        let text =
            std::fs::read_to_string(&file).map_err(|e| Diagnostic::file(&file, format!("cannot read prompt: {e}")))?;
        let hash = hex::encode(Sha256::digest(text.as_bytes()))[..12].to_owned();
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_template_owned(name.to_owned(), text.clone())
            .map_err(|e| template_diagnostic(&file, &e))?;
        let template = env.get_template(name).map_err(|e| template_diagnostic(&file, &e))?;
        let mut unknown: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|v| !VARIABLES.contains(&v.as_str()))
            .collect();
        unknown.sort();
        if let Some(var) = unknown.first() {
            let (line, column) = find(&text, var);
            return Err(Diagnostic {
                file,
                line,
                column,
                key_path: String::new(),
                message: format!("unknown variable `{var}` (a prompt may use: {})", VARIABLES.join(", ")),
            });
        }
        Ok(Prompt {
            name: name.to_owned(),
            file,
            hash,
            env: Arc::new(env),
        })
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
            name: self.name.clone(),
            source,
        };
        let template = self.env.get_template(&self.name).map_err(err)?;
        template
            .render(minijinja::context! { question, context, pipeline, sources => minijinja::Value::from(minijinja::value::Serde(sources)) })
            .map_err(|source| RenderError { name: self.name.clone(), source })
    }
}

fn template_diagnostic(file: &Path, e: &minijinja::Error) -> Diagnostic {
    Diagnostic {
        file: file.to_path_buf(),
        line: e.line().map_or(1, |l| l as u64),
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

    fn write(dir: &Path, name: &str, text: &str) {
        let p = Prompt::path_for(dir, name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn renders_question_and_numbered_context() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "hr/answer",
            "Q: {{ question }}\n{{ context }}\n{% for s in sources %}<{{ s.n }}>{% endfor %}",
        );
        let p = Prompt::load(dir.path(), "hr/answer").unwrap();
        let src = [PromptSource {
            n: 1,
            title: "Leave".into(),
            text: "25 days".into(),
            page: None,
            section: None,
        }];
        let out = p.render("hr", "days?", &src).unwrap();
        assert_eq!(out, "Q: days?\n[1] Leave\n25 days\n<1>");
        assert_eq!(p.hash.len(), 12);
    }

    #[test]
    fn unknown_variable_is_located() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x", "Hello\n  {{ questoin }}\n");
        let d = Prompt::load(dir.path(), "x").unwrap_err();
        assert_eq!((d.line, d.column), (2, 6));
        assert!(d.message.contains("unknown variable `questoin`"), "{}", d.message);
    }

    #[test]
    fn syntax_error_has_line() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "x", "ok\n{% if %}\n");
        let d = Prompt::load(dir.path(), "x").unwrap_err();
        assert_eq!(d.line, 2);
    }
}
