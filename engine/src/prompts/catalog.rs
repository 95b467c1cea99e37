//! Where prompt versions live. A prompt name such as `hr/answer` is either a
//! directory `prompts/hr/answer/` of versions (`v1.md`, `v2.md`, ...) or a single file
//! `prompts/hr/answer.md` (one unnamed version). A reference `hr/answer@v2` pins a
//! version; a bare `hr/answer` means its newest version (versions sort naturally:
//! `v2` before `v10`).

use std::cmp::Ordering;
use std::path::{Path, PathBuf};

use super::Prompt;
use crate::vocab::diagnostic::Diagnostic;

/// A reference to a prompt as a pipeline writes it: `name` or `name@version`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub name: String,
    pub version: Option<String>,
}

impl PromptRef {
    /// Parse `hr/answer` or `hr/answer@v2`.
    ///
    /// # Errors
    /// A message when the name is not a relative path of simple segments (so `..` and
    /// absolute paths are refused) or the version is not a simple word.
    pub fn parse(text: &str) -> Result<PromptRef, String> {
        let (name, version) = match text.split_once('@') {
            Some((n, v)) => (n, Some(v)),
            None => (text, None),
        };
        if !is_prompt_name(name) {
            return Err(format!(
                "`{text}` is not a prompt name: use path segments of letters, digits, `-` and `_`, like `hr/answer` (or `hr/answer@v2` for one version)"
            ));
        }
        if let Some(v) = version
            && !is_word(v)
        {
            return Err(format!(
                "`{v}` is not a prompt version: use letters, digits, `-` and `_`, like `v2`"
            ));
        }
        Ok(PromptRef {
            name: name.to_owned(),
            version: version.map(str::to_owned),
        })
    }
}

/// Every version of one prompt, oldest first.
#[derive(Debug, Clone)]
pub struct PromptFamily {
    pub name: String,
    /// Where the versions are: the directory, or the single file.
    pub path: PathBuf,
    pub versions: Vec<Prompt>,
}

impl PromptFamily {
    /// The newest version.
    pub fn latest(&self) -> Option<&Prompt> {
        self.versions.last()
    }

    /// The version called `version`.
    pub fn get(&self, version: &str) -> Option<&Prompt> {
        self.versions.iter().find(|p| p.id.version.as_deref() == Some(version))
    }

    /// Version names, oldest first, for messages.
    pub fn version_names(&self) -> Vec<&str> {
        self.versions.iter().filter_map(|p| p.id.version.as_deref()).collect()
    }

    /// Whether the prompt is a directory of named versions.
    pub fn is_versioned(&self) -> bool {
        self.versions.iter().any(|p| p.id.version.is_some())
    }
}

/// Why a prompt could not be loaded.
#[derive(Debug)]
pub enum FamilyError {
    /// Neither `prompts/<name>/` nor `prompts/<name>.md` exists (a message for the reference).
    NotFound(String),
    /// Problems inside the prompt's files, or an ambiguous layout (located in the files).
    Invalid(Vec<Diagnostic>),
}

/// The directory a versioned prompt lives in.
pub fn dir_for(config_dir: &Path, name: &str) -> PathBuf {
    config_dir.join("prompts").join(name)
}

/// The file a single-file prompt lives in.
pub fn file_for(config_dir: &Path, name: &str) -> PathBuf {
    config_dir.join("prompts").join(format!("{name}.md"))
}

/// Load and compile every version of prompt `name` (already checked by [`PromptRef::parse`]).
///
/// # Errors
/// [`FamilyError`]: the prompt does not exist, or any of its versions does not compile.
pub fn load_family(config_dir: &Path, name: &str) -> Result<PromptFamily, FamilyError> {
    let dir = dir_for(config_dir, name);
    let file = file_for(config_dir, name);
    match (dir.is_dir(), file.is_file()) {
        (false, false) => Err(FamilyError::NotFound(format!(
            "prompt not found: no directory of versions {}/ and no file {}",
            dir.display(),
            file.display()
        ))),
        (true, true) => Err(FamilyError::Invalid(vec![Diagnostic::file(
            &file,
            format!(
                "prompt `{name}` is both this file and the directory {}/: keep one",
                dir.display()
            ),
        )])),
        (false, true) => Prompt::load(&file, name, None)
            .map(|p| PromptFamily {
                name: name.to_owned(),
                path: file,
                versions: vec![p],
            })
            .map_err(|d| FamilyError::Invalid(vec![d])),
        (true, false) => load_versions(&dir, name),
    }
}

fn load_versions(dir: &Path, name: &str) -> Result<PromptFamily, FamilyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        FamilyError::Invalid(vec![Diagnostic::file(
            dir,
            format!("cannot read prompt directory: {e}"),
        )])
    })?;
    let mut files: Vec<(String, PathBuf)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x == "md"))
        .filter_map(|p| {
            let stem = p.file_stem()?.to_str()?.to_owned();
            Some((stem, p))
        })
        .collect();
    files.sort_by(|a, b| natural_cmp(&a.0, &b.0));
    let mut diagnostics = Vec::new();
    let mut versions = Vec::new();
    for (stem, path) in files {
        if !is_word(&stem) {
            diagnostics.push(Diagnostic::file(
                &path,
                format!("`{stem}` is not a version name: name version files like `v1.md`, `v2.md`"),
            ));
            continue;
        }
        match Prompt::load(&path, name, Some(&stem)) {
            Ok(p) => versions.push(p),
            Err(d) => diagnostics.push(d),
        }
    }
    if !diagnostics.is_empty() {
        return Err(FamilyError::Invalid(diagnostics));
    }
    if versions.is_empty() {
        return Err(FamilyError::NotFound(format!(
            "prompt directory {}/ holds no versions (`v1.md`, ...)",
            dir.display()
        )));
    }
    Ok(PromptFamily {
        name: name.to_owned(),
        path: dir.to_path_buf(),
        versions,
    })
}

/// Compare with runs of digits as numbers: `v2` < `v10`.
fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    loop {
        match (a.chars().next(), b.chars().next()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let da = a.len() - a.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let db = b.len() - b.trim_start_matches(|c: char| c.is_ascii_digit()).len();
                let (na, nb) = (a[..da].trim_start_matches('0'), b[..db].trim_start_matches('0'));
                let ord = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
                if ord != Ordering::Equal {
                    return ord;
                }
                (a, b) = (&a[da..], &b[db..]);
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(&y);
                }
                (a, b) = (&a[x.len_utf8()..], &b[y.len_utf8()..]);
            }
        }
    }
}

/// A relative path of simple segments.
fn is_prompt_name(name: &str) -> bool {
    !name.is_empty() && name.split('/').all(is_word)
}

fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) {
        let p = dir.join("prompts").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn references_parse_and_refuse_paths() {
        assert_eq!(
            PromptRef::parse("hr/answer@v2").unwrap(),
            PromptRef {
                name: "hr/answer".into(),
                version: Some("v2".into())
            }
        );
        assert_eq!(PromptRef::parse("hr/answer").unwrap().version, None);
        assert!(PromptRef::parse("../etc/passwd").is_err());
        assert!(PromptRef::parse("/abs").is_err());
        assert!(PromptRef::parse("hr/answer@").is_err());
        assert!(PromptRef::parse("hr/answer@v1/x").is_err());
    }

    #[test]
    fn versions_sort_naturally_and_latest_is_last() {
        let dir = tempfile::tempdir().unwrap();
        for v in ["v1", "v10", "v2"] {
            write(
                dir.path(),
                &format!("hr/answer/{v}.md"),
                &format!("{v}: {{{{ question }}}}"),
            );
        }
        write(dir.path(), "hr/answer/notes.txt", "not a version");
        let f = load_family(dir.path(), "hr/answer").unwrap();
        assert_eq!(f.version_names(), ["v1", "v2", "v10"]);
        assert_eq!(f.latest().unwrap().id.version.as_deref(), Some("v10"));
        assert!(f.get("v2").is_some() && f.get("v3").is_none());
        assert!(f.is_versioned());
    }

    #[test]
    fn single_file_prompt_has_no_version() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "shared/answer.md", "{{ question }}");
        let f = load_family(dir.path(), "shared/answer").unwrap();
        assert_eq!(f.versions.len(), 1);
        assert_eq!(f.latest().unwrap().id.version, None);
        assert!(!f.is_versioned());
    }

    #[test]
    fn missing_ambiguous_and_broken_versions() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(load_family(dir.path(), "x"), Err(FamilyError::NotFound(_))));
        write(dir.path(), "x.md", "a");
        write(dir.path(), "x/v1.md", "a");
        assert!(matches!(load_family(dir.path(), "x"), Err(FamilyError::Invalid(_))));
        write(dir.path(), "y/v1.md", "fine {{ question }}");
        write(dir.path(), "y/v2.md", "broken {{ nope }}");
        let Err(FamilyError::Invalid(d)) = load_family(dir.path(), "y") else {
            panic!("v2 is broken")
        };
        assert!(d[0].file.ends_with("y/v2.md"), "{d:?}");
    }
}
