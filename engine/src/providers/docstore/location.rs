//! Where a document store is: the checked form of `ingest.store`.

use std::path::PathBuf;

use crate::providers::aws::AwsTarget;

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
    /// The region and endpoint, if set.
    pub aws: AwsTarget,
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
            aws: AwsTarget::default(),
        })
    }

    /// `s3://bucket/prefix`.
    pub fn url(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

/// S3 bucket naming rules: 3-63 characters, lowercase letters, digits, `.` and `-`,
/// starting and ending with a letter or digit.
pub fn check_bucket(name: &str) -> Result<(), String> {
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
}
