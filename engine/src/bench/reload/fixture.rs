//! The config directory the reload benchmark edits: one pipeline on the `hash`
//! embedder (no model to load), a route script, a versioned prompt and two documents,
//! and the edits it makes, good and broken.

use std::path::Path;

use sha2::{Digest, Sha256};

/// Pipeline name.
pub const PIPELINE: &str = "bench";
/// The prompt file every good or broken prompt edit rewrites.
pub const PROMPT_FILE: &str = "prompts/bench/answer/v1.md";
pub const PIPELINE_FILE: &str = "pipelines/bench.yaml";
pub const SCRIPT_FILE: &str = "scripts/route.rhai";

/// The questions the load clients ask, in turn.
pub const QUESTIONS: &[&str] = &[
    "How many vacation days do employees get?",
    "How many sick days are paid?",
    "Can employees work remotely?",
    "How much notice does a remote work request need?",
];

const DOCS: &[(&str, &str)] = &[
    (
        "docs/leave.md",
        "# Leave policy\n\n## Vacation\n\nFull-time employees receive 25 days of paid vacation per calendar year.\n\
         Up to 5 unused days carry over to the next year.\n\n## Sick leave\n\n\
         Employees get 10 days of paid sick leave per year. A doctor's note is needed after 3 days.\n",
    ),
    (
        "docs/remote.md",
        "# Remote work\n\nEmployees may work remotely up to three days a week with their manager's approval.\n\
         Requests need two weeks of notice.\n",
    ),
];

/// The pipeline file; `top_k` and `description` vary between good edits.
pub fn pipeline(top_k: u32, description: &str) -> String {
    format!(
        "name: {PIPELINE}\ndescription: \"{description}\"\nindex: bench\n\
         ingest:\n  sources:\n    - dir: ../docs\n  chunk:\n    kind: markdown\n    max_tokens: 80\n    overlap_tokens: 10\n\
         \x20 metadata:\n    domain: bench\n  embed:\n    hash: {{}}\n\
         retrieve:\n  top_k: {top_k}\n  filter:\n    domain: [bench]\n\
         route:\n  script: ../{SCRIPT_FILE}\n  default:\n    model: quick\n    prompt: bench/answer\n\
         generate:\n  models:\n    quick:\n      extractive:\n        max_sentences: 2\n"
    )
}

/// A pipeline file with a YAML syntax error (an unclosed flow sequence) on line 4.
pub fn broken_pipeline() -> String {
    pipeline(3, "broken").replacen("index: bench\n", "index: bench\nextra: [unclosed\n", 1)
}

/// The route script; `reason` varies between good edits.
pub fn script(reason: &str) -> String {
    format!(
        "// Routing for the reload benchmark.\nfn route(query) {{\n    #{{ model: \"quick\", reason: \"{reason}\" }}\n}}\n"
    )
}

/// A route script with a syntax error on line 3.
pub fn broken_script() -> String {
    "// Routing for the reload benchmark.\nfn route(query) {\n    #{ model: \"quick\", reason: \n".to_owned()
}

/// The prompt, marked with `edit` so every edit is a new text (and a new hash).
pub fn prompt(edit: usize) -> String {
    format!(
        "---\ndescription: reload benchmark, edit {edit}\nvariables: [question, context]\n---\n\
         Answer from the sources below and cite them like [1]. (edit {edit})\n\n{{{{ context }}}}\n\nQuestion: {{{{ question }}}}\n"
    )
}

/// A prompt using a variable that does not exist, on line 5.
pub fn broken_prompt(edit: usize) -> String {
    prompt(edit).replacen("(edit", "{{ customer }} (edit", 1)
}

/// The hash a response names for a prompt text.
pub fn hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..12].to_owned()
}

/// Write the whole config directory into `dir`.
///
/// # Errors
/// I/O errors.
pub fn write(dir: &Path) -> std::io::Result<()> {
    let files = [
        (PIPELINE_FILE, pipeline(3, "reload benchmark")),
        (SCRIPT_FILE, script("edit 0")),
        (PROMPT_FILE, prompt(0)),
    ];
    for (rel, text) in files.iter().map(|(r, t)| (*r, t.as_str())).chain(DOCS.iter().copied()) {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config;

    #[test]
    fn the_fixture_compiles_and_the_broken_edits_do_not() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path()).unwrap();
        let specs = config::load_dir(dir.path()).unwrap();
        assert_eq!(specs[0].name, PIPELINE);

        let file = dir.path().join(PIPELINE_FILE);
        std::fs::write(&file, broken_pipeline()).unwrap();
        let e = config::load_dir(dir.path()).unwrap_err();
        assert_eq!(e.diagnostics[0].line, 4, "{e}");
        std::fs::write(&file, pipeline(4, "fixed")).unwrap();

        std::fs::write(dir.path().join(SCRIPT_FILE), broken_script()).unwrap();
        let e = config::load_dir(dir.path()).unwrap_err();
        assert!(e.diagnostics[0].file.ends_with(SCRIPT_FILE), "{e}");
        std::fs::write(dir.path().join(SCRIPT_FILE), script("fixed")).unwrap();

        std::fs::write(dir.path().join(PROMPT_FILE), broken_prompt(3)).unwrap();
        let e = config::load_dir(dir.path()).unwrap_err();
        assert_eq!(e.diagnostics[0].line, 5, "{e}");
        assert!(e.to_string().contains("unknown variable `customer`"), "{e}");
        std::fs::write(dir.path().join(PROMPT_FILE), prompt(4)).unwrap();
        assert!(config::load_dir(dir.path()).is_ok());
    }
}
