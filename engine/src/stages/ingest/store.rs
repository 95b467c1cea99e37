//! `ingest.store` in a pipeline file: where uploaded originals are kept and what
//! `ragline sync` mirrors. The raw serde types (1:1 with YAML) compile to a
//! [`StoreSpec`], which [`crate::providers::docstore`] opens.

use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::providers::docstore::{DirLocation, S3Location, StoreSpec, check_bucket};
use crate::stages::CompileCx;
use crate::stages::remote::AwsTargetConfig;
use crate::vocab::diagnostic::Diagnostic;

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
    S3(Box<S3StoreConfig>),
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
    /// Where to reach S3. With an `endpoint_url` (an S3-compatible server such as MinIO
    /// or moto, e.g. `http://127.0.0.1:9000`), requests use path-style addressing
    /// (`<endpoint>/<bucket>/<key>`).
    #[serde(default)]
    pub aws: AwsTargetConfig,
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
                StoreSpec::S3(S3Location {
                    bucket: s3.bucket.value.clone(),
                    prefix,
                    aws: s3.aws.compile(cx, "ingest.store.s3.aws"),
                })
            }
        }
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
fn canonical_lenient(path: &Path) -> PathBuf {
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
