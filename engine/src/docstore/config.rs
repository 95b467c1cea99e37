//! `ingest.store` in a pipeline file: where uploaded originals are kept and what
//! `ragline sync` mirrors. Raw serde types (1:1 with YAML) and the checked [`StoreSpec`].

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::vocab::diagnostic::Diagnostic;
use crate::stages::CompileCx;

/// The document store: the source of truth the index is built from. Uploads are
/// written here first; `ragline sync` mirrors it into the index. Without it, a local
/// directory under the data dir (`<data-dir>/documents/<pipeline>`) is used.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum StoreConfig {
    /// A local directory, created on first upload. Relative paths resolve against the
    /// pipeline file. Documents are kept as `<dir>/<domain>/<file name>`.
    Dir(#[schemars(with = "String")] Spanned<PathBuf>),
    /// An S3 bucket, or a bucket on an S3-compatible server.
    S3(S3StoreConfig),
}

/// An S3 location. Credentials always come from the standard AWS chain (environment,
/// profile, SSO, web identity, container or instance role), never from this file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct S3StoreConfig {
    /// Bucket name, e.g. `acme-docs`.
    #[schemars(with = "String")]
    pub bucket: Spanned<String>,
    /// Key prefix the documents live under, e.g. `documents/` (default: the bucket
    /// root). Objects are `<prefix><domain>/<file name>`.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// AWS region, e.g. `eu-west-1` (default: the standard chain's, `AWS_REGION` or the profile's).
    #[serde(default)]
    pub region: Option<String>,
    /// Endpoint of an S3-compatible server (MinIO, moto, ...), e.g. `http://127.0.0.1:9000`.
    /// Requests to it use path-style addressing (`<endpoint>/<bucket>/<key>`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub endpoint_url: Option<Spanned<String>>,
}

/// The checked store of a pipeline.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreSpec {
    /// `<data-dir>/documents/<pipeline>`; documents are named `upload/<pipeline>/<key>`.
    Default,
    /// A local directory.
    Dir(DirLocation),
    /// An S3 bucket and prefix.
    S3(S3Location),
}

/// A local store directory and how its files are named in the index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirLocation {
    pub root: PathBuf,
    /// Prepended to a key to name the document: the directory relative to the config
    /// directory when inside it (so a file is named as `ragline ingest` names it).
    pub source_prefix: String,
}

/// Where in S3.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct S3Location {
    pub bucket: String,
    /// Key prefix, `""` or ending in `/` unless given otherwise in a URL.
    pub prefix: String,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

impl S3Location {
    /// Parse `s3://bucket/prefix`; region and endpoint are left unset.
    ///
    /// # Errors
    /// A message saying what is wrong with the URL.
    pub fn parse_url(url: &str) -> Result<S3Location, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("`{url}` is not an S3 URL: expected s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        check_bucket(bucket).map_err(|e| format!("`{url}`: {e}"))?;
        Ok(S3Location {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
            region: None,
            endpoint_url: None,
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

impl StoreConfig {
    /// Check the store settings. Problems go to `cx`.
    pub fn compile(&self, cx: &mut CompileCx<'_>) -> StoreSpec {
        match self {
            StoreConfig::Dir(dir) => {
                let root = cx.resolve(&dir.value);
                let source_prefix = source_prefix(&root, cx.config_dir);
                StoreSpec::Dir(DirLocation { root, source_prefix })
            }
            StoreConfig::S3(s3) => {
                if let Err(e) = check_bucket(&s3.bucket.value) {
                    cx.push(Diagnostic::spanned(cx.file, &s3.bucket, "ingest.store.s3.bucket", e));
                }
                let mut prefix = s3.prefix.as_ref().map_or_else(String::new, |p| p.value.clone());
                if let Some(p) = &s3.prefix
                    && p.value.starts_with('/')
                {
                    cx.push(Diagnostic::spanned(
                        cx.file,
                        p,
                        "ingest.store.s3.prefix",
                        "a key prefix does not start with `/`: write `documents/`, not `/documents/`",
                    ));
                }
                if !prefix.is_empty() && !prefix.ends_with('/') {
                    prefix.push('/');
                }
                let endpoint_url = s3
                    .endpoint_url
                    .as_ref()
                    .map(|u| cx.http_url("ingest.store.s3.endpoint_url".to_owned(), u));
                StoreSpec::S3(S3Location {
                    bucket: s3.bucket.value.clone(),
                    prefix,
                    region: s3.region.clone(),
                    endpoint_url,
                })
            }
        }
    }
}

/// S3 bucket naming rules: 3-63 characters, lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit.
fn check_bucket(name: &str) -> Result<(), String> {
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let ok_ends =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && ok_chars && ok_ends {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid bucket name: 3-63 lowercase letters, digits, `.` or `-`, starting and ending with a letter or digit"
        ))
    }
}

/// How files of `root` are named in the index: relative to the config directory when
/// inside it (as `ragline ingest` names them), else absolute; ends in `/`.
fn source_prefix(root: &Path, config_dir: &Path) -> String {
    let root = canonical_lenient(root);
    let base = canonical_lenient(config_dir);
    let rel = root.strip_prefix(&base).unwrap_or(&root);
    let mut s = rel.to_string_lossy().replace('\\', "/");
    if !s.is_empty() && !s.ends_with('/') {
        s.push('/');
    }
    s
}

/// `path` made absolute and canonical as far as it exists (the store directory may
/// not exist before the first upload).
pub(crate) fn canonical_lenient(path: &Path) -> PathBuf {
    let mut existing = path.to_path_buf();
    let mut rest = Vec::new();
    loop {
        if let Ok(c) = existing.canonicalize() {
            return rest.iter().rev().fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_urls() {
        let l = S3Location::parse_url("s3://acme-docs/documents/hr/").unwrap();
        assert_eq!((l.bucket.as_str(), l.prefix.as_str()), ("acme-docs", "documents/hr/"));
        assert_eq!(l.url(), "s3://acme-docs/documents/hr/");
        let l = S3Location::parse_url("s3://acme-docs").unwrap();
        assert_eq!(l.prefix, "");
        assert!(
            S3Location::parse_url("http://x/y")
                .unwrap_err()
                .contains("not an S3 URL")
        );
        assert!(
            S3Location::parse_url("s3://Bad_Bucket/x")
                .unwrap_err()
                .contains("bucket name")
        );
    }

    #[test]
    fn bucket_names() {
        assert!(check_bucket("my.bucket-1").is_ok());
        for bad in ["ab", "-abc", "abc-", "ABC", "a_b_c", &"a".repeat(64)] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dir_sources_are_named_relative_to_the_config_dir() {
        let config = tempfile::tempdir().unwrap();
        std::fs::create_dir(config.path().join("data")).unwrap();
        let root = config.path().join("data/uploads");
        assert_eq!(source_prefix(&root, config.path()), "data/uploads/");
        let elsewhere = tempfile::tempdir().unwrap();
        let prefix = source_prefix(elsewhere.path(), config.path());
        assert!(prefix.starts_with('/') && prefix.ends_with('/'), "{prefix}");
    }
}
