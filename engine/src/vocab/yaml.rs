//! YAML → typed config with positions. serde-saphyr keeps line and column through
//! our types; serde_path_to_error adds the key path.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_saphyr::{MessageFormatter, Options};

use super::Diagnostic;

/// Deserialize `text` (the contents of `file`) into `T`.
///
/// # Errors
/// A [`Diagnostic`] at the failing node: syntax errors, unknown keys, wrong types,
/// duplicate keys and missing fields.
pub fn from_yaml<T: DeserializeOwned>(file: &Path, text: &str) -> Result<T, Diagnostic> {
    let mut key_path = String::new();
    let result = serde_saphyr::with_deserializer_from_str_with_options(text, Options::default(), |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            key_path = path_to_string(e.path());
            e.into_inner()
        })
    });
    result.map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line(), l.column())).unwrap_or((0, 0));
        let message = user_message(&serde_saphyr::DefaultMessageFormatter.format_message(&err));
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            key_path,
            message,
        }
    })
}

fn path_to_string(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            // `Spanned<T>` is a struct with a `value` field: not a key the user wrote.
            Segment::Map { key } if key == "value" => {}
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    out
}

/// Reword the parser's developer-facing messages for people editing YAML.
fn user_message(message: &str) -> String {
    match message {
        "expected string scalar" => {
            "expected a single value (number, string or boolean), found a list or mapping".to_owned()
        }
        "invalid u32" | "invalid u64" => "expected a whole number of 0 or more".to_owned(),
        "invalid f32" | "invalid f64" => "expected a number".to_owned(),
        "expected mapping start" => "expected a mapping of options (`key: value`; `{}` takes the defaults)".to_owned(),
        m if m.starts_with("unknown variant `provider`") => format!(
            "{m}; the provider is the key, its options the value: write `bedrock: {{ model_id: ... }}`, not `provider: bedrock`"
        ),
        _ => message.replace(", set DuplicateKeyPolicy in Options if acceptable", ""),
    }
}
