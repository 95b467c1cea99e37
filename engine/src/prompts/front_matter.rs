//! A prompt file's optional YAML front matter: between a first line `---` and the
//! next line `---`, before the template.
//!
//! ```text
//! ---
//! description: shorter answers, one citation per sentence
//! variables: [question, context]
//! model: lite
//! ---
//! Answer from the sources: {{ context }} ...
//! ```

use std::path::Path;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::vocab::diagnostic::Diagnostic;
use crate::vocab::yaml::from_yaml;

/// The front matter of a prompt version.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromptMetaConfig {
    /// One line saying what this version is for or what it changes; shown in listings.
    #[serde(default)]
    pub description: String,
    /// Variables the template may use, from `question`, `context`, `sources` and
    /// `pipeline` (default: all of them). Using another one is an error at load.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub variables: Option<Vec<Spanned<String>>>,
    /// The model this version is written for, a name from the pipeline's
    /// `generate.models`. It answers when the route takes its default (no script, or
    /// the script failed and fell back); a model chosen by the route script wins.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub model: Option<Spanned<String>>,
}

/// A prompt file split into front matter and template.
#[derive(Debug)]
pub struct Parts<'a> {
    pub meta: PromptMetaConfig,
    pub body: &'a str,
    /// Lines before the template (the front matter and its two `---` lines), to add to
    /// template line numbers.
    pub body_line_offset: u64,
}

/// Split `text` (the contents of `file`).
///
/// # Errors
/// A diagnostic located in `file` when the front matter is not closed or does not
/// match [`PromptMetaConfig`].
pub fn split<'a>(file: &Path, text: &'a str) -> Result<Parts<'a>, Diagnostic> {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return Ok(Parts {
            meta: PromptMetaConfig::default(),
            body: text,
            body_line_offset: 0,
        });
    };
    let mut offset = 0;
    let mut close = None;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            close = Some((offset, offset + line.len()));
            break;
        }
        offset += line.len();
    }
    let Some((yaml_end, body_start)) = close else {
        return Err(Diagnostic::file(
            file,
            "front matter opened with `---` on line 1 is not closed by a line `---`",
        ));
    };
    let yaml = &rest[..yaml_end];
    // A blank first line stands in for the opening `---`, so YAML positions are file positions.
    let meta = if yaml.trim().is_empty() {
        PromptMetaConfig::default()
    } else {
        from_yaml(file, &format!("\n{yaml}"))?
    };
    let body_line_offset = 2 + yaml.lines().count() as u64;
    Ok(Parts {
        meta,
        body: &rest[body_start..],
        body_line_offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_front_matter_is_all_template() {
        let p = split(Path::new("x.md"), "Hello {{ question }}").unwrap();
        assert_eq!(p.body, "Hello {{ question }}");
        assert_eq!(p.body_line_offset, 0);
        assert!(p.meta.model.is_none());
    }

    #[test]
    fn front_matter_is_parsed_and_offsets_the_body() {
        let text = "---\ndescription: short\nvariables: [question]\nmodel: lite\n---\nQ: {{ question }}\n";
        let p = split(Path::new("x.md"), text).unwrap();
        assert_eq!(p.meta.description, "short");
        assert_eq!(p.meta.model.as_ref().unwrap().value, "lite");
        assert_eq!(p.meta.model.as_ref().unwrap().referenced.line(), 4);
        assert_eq!(p.body, "Q: {{ question }}\n");
        assert_eq!(p.body_line_offset, 5);
    }

    #[test]
    fn bad_front_matter_is_located_in_the_file() {
        let d = split(Path::new("x.md"), "---\ndescription: ok\nmodle: lite\n---\nbody").unwrap_err();
        assert_eq!(d.line, 3, "{d}");
        assert!(d.message.contains("modle"), "{d}");
        let d = split(Path::new("x.md"), "---\ndescription: never closed\n").unwrap_err();
        assert!(d.message.contains("not closed"), "{d}");
    }
}
