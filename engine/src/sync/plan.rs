//! What a sync has to do: compare a store listing with the indexed documents.

use std::collections::BTreeMap;

use super::origin_tag;
use crate::providers::docstore::ObjectInfo;
use crate::store::DocumentRecord;

/// An object to download and ingest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    pub object: ObjectInfo,
    /// Its document's source.
    pub source: String,
    /// Whether a document for it is indexed already (then it is an update).
    pub indexed: bool,
}

/// The work of one sync.
#[derive(Debug, Default, PartialEq)]
pub struct Plan {
    /// New or changed objects, in key order.
    pub fetch: Vec<Fetch>,
    /// Objects whose version and settings match their document's origin.
    pub unchanged: usize,
    /// Indexed documents in scope whose object is gone.
    pub delete: Vec<DocumentRecord>,
}

/// Plan a sync of `listing` against `indexed` (the documents in the synced scope).
/// `source` names an object's document; `fingerprint` is the pipeline's ingest settings.
pub fn plan(
    listing: Vec<ObjectInfo>,
    indexed: Vec<DocumentRecord>,
    source: impl Fn(&str) -> String,
    fingerprint: &str,
) -> Plan {
    let mut by_source: BTreeMap<String, DocumentRecord> = indexed.into_iter().map(|d| (d.source.clone(), d)).collect();
    let mut out = Plan::default();
    for object in listing {
        let source = source(&object.key);
        match by_source.remove(&source) {
            Some(doc) if doc.origin.as_deref() == Some(origin_tag(&object.version, fingerprint).as_str()) => {
                out.unchanged += 1;
            }
            doc => out.fetch.push(Fetch {
                object,
                source,
                indexed: doc.is_some(),
            }),
        }
    }
    out.delete = by_source.into_values().collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vocab::Metadata;

    fn object(key: &str, version: &str) -> ObjectInfo {
        ObjectInfo {
            key: key.to_owned(),
            version: version.to_owned(),
            size: 1,
        }
    }

    fn doc(source: &str, origin: Option<&str>) -> DocumentRecord {
        DocumentRecord {
            id: crate::vocab::ids::document_id(source),
            title: String::new(),
            source: source.to_owned(),
            format: "txt".to_owned(),
            content_hash: String::new(),
            metadata: Metadata::default(),
            bytes: 1,
            chunk_count: 1,
            ingested_at: 0,
            settings: String::new(),
            origin: origin.map(str::to_owned),
        }
    }

    #[test]
    fn new_changed_unchanged_and_deleted() {
        let listing = vec![
            object("hr/new.md", "e1"),
            object("hr/same.md", "e2"),
            object("hr/changed.md", "e4"),
        ];
        let indexed = vec![
            doc("s3://b/hr/same.md", Some("e2@fp")),
            doc("s3://b/hr/changed.md", Some("e3@fp")),
            doc("s3://b/hr/gone.md", Some("e5@fp")),
        ];
        let p = plan(listing, indexed, |k| format!("s3://b/{k}"), "fp");
        assert_eq!(p.unchanged, 1);
        let fetch: Vec<(&str, bool)> = p.fetch.iter().map(|f| (f.object.key.as_str(), f.indexed)).collect();
        assert_eq!(fetch, [("hr/new.md", false), ("hr/changed.md", true)]);
        let deleted: Vec<&str> = p.delete.iter().map(|d| d.source.as_str()).collect();
        assert_eq!(deleted, ["s3://b/hr/gone.md"]);
    }

    #[test]
    fn other_settings_or_no_origin_mean_fetch_again() {
        let listing = vec![object("a.md", "e1"), object("b.md", "e1")];
        let indexed = vec![doc("s3://b/a.md", Some("e1@old")), doc("s3://b/b.md", None)];
        let p = plan(listing, indexed, |k| format!("s3://b/{k}"), "new");
        assert_eq!(p.unchanged, 0);
        assert!(p.fetch.iter().all(|f| f.indexed));
        assert!(p.delete.is_empty());
    }
}
