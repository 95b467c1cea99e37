//! Document metadata and the filters that match it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Filter field: the document's domain.
pub const DOMAIN: &str = "domain";
/// Filter field: the document's department.
pub const DEPARTMENT: &str = "department";
/// Filter field: the document's type.
pub const DOC_TYPE: &str = "doc_type";
/// Filter field: any of the document's tags.
pub const TAGS: &str = "tags";
/// Every field a filter may name.
pub const FILTER_FIELDS: [&str; 4] = [DOMAIN, DEPARTMENT, DOC_TYPE, TAGS];

/// Metadata every document carries; filters match on these fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    pub domain: String,
    pub department: Option<String>,
    pub doc_type: Option<String>,
    pub tags: Vec<String>,
}

impl Metadata {
    /// The (field, value) pairs this metadata contributes; tags deduplicated.
    pub fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![(DOMAIN, self.domain.as_str())];
        if let Some(department) = &self.department {
            pairs.push((DEPARTMENT, department));
        }
        if let Some(doc_type) = &self.doc_type {
            pairs.push((DOC_TYPE, doc_type));
        }
        let mut tags: Vec<&str> = self.tags.iter().map(String::as_str).collect();
        tags.sort_unstable();
        tags.dedup();
        pairs.extend(tags.into_iter().map(|tag| (TAGS, tag)));
        pairs
    }
}

/// A metadata field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MetadataField {
    Domain,
    Department,
    DocType,
    Tags,
}

impl MetadataField {
    pub fn name(self) -> &'static str {
        match self {
            MetadataField::Domain => DOMAIN,
            MetadataField::Department => DEPARTMENT,
            MetadataField::DocType => DOC_TYPE,
            MetadataField::Tags => TAGS,
        }
    }

    /// Whether `m` has a non-empty value for this field.
    pub fn is_set(self, m: &Metadata) -> bool {
        match self {
            MetadataField::Domain => !m.domain.is_empty(),
            MetadataField::Department => m.department.as_ref().is_some_and(|v| !v.is_empty()),
            MetadataField::DocType => m.doc_type.as_ref().is_some_and(|v| !v.is_empty()),
            MetadataField::Tags => !m.tags.is_empty(),
        }
    }
}

/// Metadata filter: a chunk passes when, for every field, its value (any of its
/// tags for `tags`) is one of the listed values. An empty filter passes everything.
/// Fields: `domain`, `department`, `doc_type`, `tags`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub fields: BTreeMap<String, Vec<String>>,
}

impl Filter {
    /// Whether a document with `meta` passes this filter: AND across fields, OR within
    /// a field's values.
    pub fn matches(&self, meta: &Metadata) -> bool {
        self.mismatch(meta).is_none()
    }

    /// The first field `meta` fails on, with the values `meta` has for it.
    pub fn mismatch<'f, 'm>(&'f self, meta: &'m Metadata) -> Option<(&'f str, Vec<&'m str>)> {
        let values = meta.pairs();
        self.fields.iter().find_map(|(field, wanted)| {
            let have: Vec<&str> = values
                .iter()
                .filter(|&&(f, _)| f == field.as_str())
                .map(|&(_, v)| v)
                .collect();
            (!have.iter().any(|v| wanted.iter().any(|w| w == v))).then_some((field.as_str(), have))
        })
    }

    /// This filter with `field` narrowed to `allowed` (on top of what it already
    /// allows); `None` when nothing is left.
    pub fn narrowed(&self, field: &str, allowed: &[String]) -> Option<Filter> {
        let values: Vec<String> = match self.fields.get(field).filter(|own| !own.is_empty()) {
            Some(own) => own.iter().filter(|v| allowed.contains(v)).cloned().collect(),
            None => allowed.to_vec(),
        };
        if values.is_empty() {
            return None;
        }
        let mut narrowed = self.clone();
        narrowed.fields.insert(field.to_owned(), values);
        Some(narrowed)
    }

    /// The first field that is not one of [`FILTER_FIELDS`].
    pub fn unknown_field(&self) -> Option<&str> {
        self.fields
            .keys()
            .map(String::as_str)
            .find(|field| !FILTER_FIELDS.contains(field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            domain: "hr".into(),
            department: Some("people".into()),
            doc_type: None,
            tags: vec!["b".into(), "a".into(), "b".into()],
        }
    }

    fn filter(fields: &[(&str, &[&str])]) -> Filter {
        Filter {
            fields: fields
                .iter()
                .map(|(f, vs)| ((*f).to_owned(), vs.iter().map(|v| (*v).to_owned()).collect()))
                .collect(),
        }
    }

    #[test]
    fn matches_is_and_across_fields_or_within() {
        let m = meta();
        assert!(Filter::default().matches(&m));
        assert!(filter(&[("domain", &["it", "hr"])]).matches(&m));
        assert!(filter(&[("domain", &["hr"]), ("tags", &["z", "a"])]).matches(&m));
        assert!(!filter(&[("domain", &["hr"]), ("tags", &["z"])]).matches(&m));
        assert!(!filter(&[("doc_type", &["policy"])]).matches(&m));
        assert!(!filter(&[("domain", &[])]).matches(&m));
        assert_eq!(
            filter(&[("domain", &["it"])]).mismatch(&m),
            Some(("domain", vec!["hr"]))
        );
    }

    #[test]
    fn pairs_deduplicate_tags_and_unknown_fields_are_named() {
        assert_eq!(
            meta().pairs(),
            [("domain", "hr"), ("department", "people"), ("tags", "a"), ("tags", "b")]
        );
        assert_eq!(filter(&[("domain", &["x"]), ("tags", &["y"])]).unknown_field(), None);
        assert_eq!(filter(&[("author", &["x"])]).unknown_field(), Some("author"));
    }
}
