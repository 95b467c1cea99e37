//! What ragline records with a stored object: the content hash, and the metadata an
//! upload set explicitly (so a later sync indexes the object the same way). On S3 these
//! are user metadata (`x-amz-meta-*`); a local store keeps them in a hidden sidecar file.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::vocab::Metadata;

/// Hex sha256 of the object's bytes.
pub const SHA256: &str = "sha256";
const DOMAIN: &str = "domain";
const DEPARTMENT: &str = "department";
const DOC_TYPE: &str = "doc-type";
const TAGS: &str = "tags";

/// Object metadata ragline reads and writes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// Hex sha256 of the content, as written by ragline or the data-sync workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Metadata set explicitly at upload, overriding the pipeline's defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

impl ObjectMeta {
    /// As S3 user metadata. Values are percent-encoded outside printable ASCII, since
    /// HTTP headers carry them.
    pub fn to_headers(&self) -> HashMap<String, String> {
        let mut out = HashMap::new();
        if let Some(h) = &self.sha256 {
            out.insert(SHA256.to_owned(), h.clone());
        }
        if let Some(m) = &self.metadata {
            out.insert(DOMAIN.to_owned(), encode(&m.domain));
            if let Some(d) = &m.department {
                out.insert(DEPARTMENT.to_owned(), encode(d));
            }
            if let Some(d) = &m.doc_type {
                out.insert(DOC_TYPE.to_owned(), encode(d));
            }
            if !m.tags.is_empty() {
                let tags: Vec<String> = m.tags.iter().map(|t| encode(t).replace(',', "%2C")).collect();
                out.insert(TAGS.to_owned(), tags.join(","));
            }
        }
        out
    }

    /// Read back what [`ObjectMeta::to_headers`] wrote; other keys are ignored.
    pub fn from_headers(headers: &HashMap<String, String>) -> ObjectMeta {
        let get = |k: &str| headers.get(k).map(|v| decode(v));
        let metadata = get(DOMAIN).map(|domain| Metadata {
            domain,
            department: get(DEPARTMENT),
            doc_type: get(DOC_TYPE),
            tags: headers
                .get(TAGS)
                .map(|t| t.split(',').filter(|s| !s.is_empty()).map(decode).collect())
                .unwrap_or_default(),
        });
        ObjectMeta {
            sha256: headers.get(SHA256).cloned(),
            metadata,
        }
    }
}

/// Percent-encode `%` and everything outside printable ASCII.
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if (0x20..0x7f).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Undo [`encode`]; a malformed escape is kept as written.
fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_headers() {
        let meta = ObjectMeta {
            sha256: Some("ab".repeat(32)),
            metadata: Some(Metadata {
                domain: "hr".to_owned(),
                department: Some("Développement 100%".to_owned()),
                doc_type: None,
                tags: vec!["a,b".to_owned(), "ünï".to_owned()],
            }),
        };
        let headers = meta.to_headers();
        assert!(headers.values().all(|v| v.is_ascii()), "{headers:?}");
        assert_eq!(ObjectMeta::from_headers(&headers), meta);
        assert_eq!(ObjectMeta::from_headers(&HashMap::new()), ObjectMeta::default());
        assert_eq!(decode("50%"), "50%");
    }
}
