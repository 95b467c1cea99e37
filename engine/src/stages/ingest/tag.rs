//! The tag sub-stage: a rhai rule (`fn tag(doc)`) that sets a document's metadata at
//! ingest, and the checks every document's metadata must pass (required fields,
//! allowed values).

use std::path::PathBuf;

use rhai::{Dynamic, Map};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use super::parse::ParsedDocument;
use crate::script::{Script, ScriptError, describe, to_dynamic};
use crate::stages::{CompileCx, Run, Stage};
use crate::vocab::{Diagnostic, Filter, Metadata, MetadataField};

/// Characters of a document's text a tag script sees.
pub const TEXT_HEAD_CHARS: usize = 2000;

/// Tagging settings.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagConfig {
    /// A rhai script defining `fn tag(doc)`, relative to this file. It returns a map with
    /// any of `domain`, `department`, `doc_type` (strings) and `tags` (array of strings).
    #[schemars(with = "String")]
    pub script: Spanned<PathBuf>,
}

/// What a tag script sees.
#[derive(Debug, Clone, Serialize)]
pub struct TagInput {
    /// The document's source (path or upload name).
    pub path: String,
    pub file_name: String,
    pub title: String,
    /// The first [`TEXT_HEAD_CHARS`] characters of the text.
    pub text_head: String,
    /// The metadata the document has before the script runs (pipeline defaults or upload fields).
    pub metadata: Metadata,
}

impl TagInput {
    /// What the script sees of a parsed document named `path` (`file_name` on disk),
    /// whose metadata is `metadata` so far.
    pub fn new(path: &str, file_name: &str, title: &str, doc: &ParsedDocument, metadata: Metadata) -> Self {
        Self {
            path: path.to_owned(),
            file_name: file_name.to_owned(),
            title: title.to_owned(),
            text_head: text_head(doc),
            metadata,
        }
    }
}

/// The start of a document's text: its first [`TEXT_HEAD_CHARS`] characters.
fn text_head(doc: &ParsedDocument) -> String {
    let mut head = String::new();
    for section in &doc.sections {
        if head.chars().count() >= TEXT_HEAD_CHARS {
            break;
        }
        if !head.is_empty() {
            head.push('\n');
        }
        head.push_str(&section.text);
    }
    head.chars().take(TEXT_HEAD_CHARS).collect()
}

/// Why a document's metadata was refused. Messages name the document and the field.
#[derive(Debug, thiserror::Error)]
pub enum TagError {
    #[error("{document}: tag script failed: {source}")]
    Script { document: String, source: ScriptError },
    #[error("{document}: field `{field}`: {message}")]
    Field {
        document: String,
        field: String,
        message: String,
    },
    /// A value outside what the pipeline may hold (its `retrieve.filter`).
    #[error("{document}: field `{field}`: {message}")]
    Forbidden {
        document: String,
        field: String,
        message: String,
    },
}

impl TagConfig {
    /// Compile the script. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> Option<Script> {
        let path = cx.resolve(&self.script.value);
        if !path.is_file() {
            cx.push(Diagnostic::spanned(
                cx.file,
                &self.script,
                "ingest.tag.script",
                format!("script not found: {}", path.display()),
            ));
            return None;
        }
        Script::load(&path, "tag").map_err(|d| cx.push(d)).ok()
    }
}

/// The checked tag sub-stage: the script, if any, and the fields every document needs.
#[derive(Debug, Clone, Default)]
pub struct Tagger {
    pub script: Option<Script>,
    pub required: Vec<MetadataField>,
}

impl Stage for Tagger {
    fn name(&self) -> &'static str {
        "tag"
    }

    fn files_to_watch(&self) -> Vec<PathBuf> {
        self.script.iter().map(|s| s.path.clone()).collect()
    }
}

/// A document's final metadata: the input's (defaults or upload fields) as the script
/// changes it, checked against the required fields and what the pipeline may hold
/// (the filter given). Errors name the document and, for bad values, the field.
impl Run for Tagger {
    type Input<'a> = (&'a TagInput, &'a Filter);
    type Output = Metadata;
    type Error = TagError;

    fn run(&self, (input, allowed): Self::Input<'_>) -> Result<Metadata, TagError> {
        let metadata = match &self.script {
            None => input.metadata.clone(),
            Some(script) => tag(script, input)?,
        };
        validate(&input.path, &metadata, &self.required, allowed)?;
        Ok(metadata)
    }
}

/// Run `script` on `input` and merge what it returns over `input.metadata`.
///
/// # Errors
/// [`TagError`] when the script fails or returns something that is not metadata.
pub fn tag(script: &Script, input: &TagInput) -> Result<Metadata, TagError> {
    let document = input.path.clone();
    let out = script
        .call("tag", to_dynamic(input))
        .map_err(|source| TagError::Script {
            document: document.clone(),
            source,
        })?;
    let Some(map) = out.clone().try_cast::<Map>() else {
        let source = script.wrong_return(
            "tag",
            &out,
            r#"a map like #{ domain: "hr", doc_type: "policy", tags: ["leave"] }"#,
        );
        return Err(TagError::Script { document, source });
    };
    let field_error = |field: &str, message: String| TagError::Field {
        document: document.clone(),
        field: field.to_owned(),
        message,
    };
    let string = |field: &str, v: &Dynamic| {
        v.clone()
            .into_string()
            .map_err(|_| field_error(field, format!("must be a string, not {}", describe(v))))
    };
    let mut m = input.metadata.clone();
    for (key, value) in &map {
        match key.as_str() {
            "domain" => m.domain = string("domain", value)?,
            "department" => m.department = Some(string("department", value)?),
            "doc_type" => m.doc_type = Some(string("doc_type", value)?),
            "tags" => {
                let items = value.clone().into_array().map_err(|_| {
                    field_error("tags", format!("must be an array of strings, not {}", describe(value)))
                })?;
                m.tags = items.iter().map(|t| string("tags", t)).collect::<Result<_, _>>()?;
            }
            other => {
                return Err(field_error(
                    other,
                    "unknown field (expected domain, department, doc_type, tags)".to_owned(),
                ));
            }
        }
    }
    Ok(m)
}

/// Check `m` against the pipeline's schema: `required` fields set, every value within `allowed`.
///
/// # Errors
/// [`TagError::Field`] naming `document` and the first failing field.
pub fn validate(document: &str, m: &Metadata, required: &[MetadataField], allowed: &Filter) -> Result<(), TagError> {
    let err = |field: &str, message: String| TagError::Field {
        document: document.to_owned(),
        field: field.to_owned(),
        message,
    };
    if m.domain.trim().is_empty() {
        return Err(err("domain", "must not be empty".to_owned()));
    }
    if let Some((field, have)) = allowed.mismatch(m) {
        let allowed_values = allowed.fields.get(field).map(|v| v.join(", ")).unwrap_or_default();
        return Err(TagError::Forbidden {
            document: document.to_owned(),
            field: field.to_owned(),
            message: format!("{have:?} is not allowed here (allowed: {allowed_values})"),
        });
    }
    if let Some(f) = required.iter().find(|f| !f.is_set(m)) {
        return Err(err(f.name(), "is required but empty".to_owned()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(body: &str) -> (tempfile::TempDir, Script) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tag.rhai");
        std::fs::write(&path, body).unwrap();
        let s = Script::load(&path, "tag").unwrap();
        (dir, s)
    }

    fn input() -> TagInput {
        TagInput {
            path: "docs/hr/leave.md".into(),
            file_name: "leave.md".into(),
            title: "Leave policy".into(),
            text_head: "Employees receive 25 days of paid vacation.".into(),
            metadata: Metadata {
                domain: "hr".into(),
                ..Metadata::default()
            },
        }
    }

    #[test]
    fn merges_the_returned_fields() {
        let (_d, s) = script(
            r#"fn tag(doc) { if doc.text_head.contains("vacation") { #{ doc_type: "policy", tags: ["leave"] } } else { #{} } }"#,
        );
        let m = tag(&s, &input()).unwrap();
        assert_eq!(m.domain, "hr");
        assert_eq!(m.doc_type.as_deref(), Some("policy"));
        assert_eq!(m.tags, ["leave"]);
    }

    #[test]
    fn wrong_types_and_unknown_fields_name_document_and_field() {
        let (_d, s) = script("fn tag(doc) { #{ doc_type: 3 } }");
        let e = tag(&s, &input()).unwrap_err().to_string();
        assert_eq!(
            e,
            "docs/hr/leave.md: field `doc_type`: must be a string, not a value of type i64 (3)"
        );
        let (_d, s) = script(r#"fn tag(doc) { #{ colour: "red" } }"#);
        assert!(
            tag(&s, &input())
                .unwrap_err()
                .to_string()
                .contains("field `colour`: unknown field")
        );
        let (_d, s) = script(r#"fn tag(doc) { #{ tags: "leave" } }"#);
        assert!(
            tag(&s, &input())
                .unwrap_err()
                .to_string()
                .contains("field `tags`: must be an array of strings")
        );
        let (_d, s) = script(r#"fn tag(doc) { "hr" }"#);
        let e = tag(&s, &input()).unwrap_err();
        assert!(matches!(e, TagError::Script { .. }));
        assert!(e.to_string().contains("returned a string (hr); expected a map"), "{e}");
    }

    #[test]
    fn validation_checks_required_fields_and_allowed_values() {
        let m = Metadata {
            domain: "finance".into(),
            ..Metadata::default()
        };
        let allowed = Filter {
            fields: [("domain".to_owned(), vec!["hr".to_owned()])].into(),
        };
        let e = validate("a.md", &m, &[], &allowed).unwrap_err().to_string();
        assert_eq!(
            e,
            r#"a.md: field `domain`: ["finance"] is not allowed here (allowed: hr)"#
        );
        let m = Metadata {
            domain: "hr".into(),
            ..Metadata::default()
        };
        let e = validate("a.md", &m, &[MetadataField::DocType], &allowed)
            .unwrap_err()
            .to_string();
        assert_eq!(e, "a.md: field `doc_type`: is required but empty");
        assert!(
            validate(
                "a.md",
                &Metadata {
                    doc_type: Some("policy".into()),
                    ..m
                },
                &[MetadataField::DocType],
                &allowed
            )
            .is_ok()
        );
    }
}
