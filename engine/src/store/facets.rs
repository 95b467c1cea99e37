//! Metadata facets: for each `field\0value`, the roaring bitmap of the chunk ids
//! whose document carries that value. Filters become candidate bitmaps here.

use std::collections::BTreeMap;

use heed::{RoTxn, RwTxn};
use roaring::RoaringBitmap;

use super::StoreError;
use super::lmdb::{Databases, decode_bitmap, encode_bitmap};
use crate::vocab::metadata::{Filter, Metadata};

/// The LMDB key of one facet value.
fn key(field: &str, value: &str) -> Vec<u8> {
    let mut key = Vec::with_capacity(field.len() + 1 + value.len());
    key.extend_from_slice(field.as_bytes());
    key.push(0);
    key.extend_from_slice(value.as_bytes());
    key
}

/// Checks that every metadata value fits in an LMDB key.
///
/// Errors: `KeyLength` naming the first value that does not.
pub(super) fn check_key_sizes(meta: &Metadata, max_key: usize) -> Result<(), StoreError> {
    for (field, value) in meta.pairs() {
        let len = key(field, value).len();
        if len > max_key {
            return Err(StoreError::KeyLength {
                what: format!("metadata `{field}` value"),
                len,
                max: max_key,
            });
        }
    }
    Ok(())
}

/// Checks that every filter field is one of the known fields.
///
/// Errors: `UnknownFilterField` for the first unknown field.
pub(super) fn validate(filter: &Filter) -> Result<(), StoreError> {
    match filter.unknown_field() {
        Some(field) => Err(StoreError::UnknownFilterField {
            field: field.to_owned(),
        }),
        None => Ok(()),
    }
}

/// The chunk ids passing a (validated) filter, or `None` when everything passes: the
/// filter is empty, or it allows every chunk (then searches skip it, since a clause that
/// restricts nothing still costs).
///
/// Errors: `Lmdb` on read failure, `Corrupt` when a bitmap cannot be decoded.
pub(super) fn candidates(rtxn: &RoTxn, dbs: &Databases, filter: &Filter) -> Result<Option<RoaringBitmap>, StoreError> {
    let mut result: Option<RoaringBitmap> = None;
    for (field, values) in &filter.fields {
        let mut any = RoaringBitmap::new();
        for value in values {
            let key = key(field, value);
            // A key LMDB cannot hold was never stored.
            if key.len() > dbs.max_key {
                continue;
            }
            if let Some(bytes) = dbs.facets.get(rtxn, &key)? {
                any |= decode_bitmap(bytes)?;
            }
        }
        result = Some(match result {
            Some(all) => all & any,
            None => any,
        });
    }
    match result {
        Some(allowed) if allowed.len() == dbs.chunks.len(rtxn)? => Ok(None),
        other => Ok(other),
    }
}

/// The facet changes of one write, applied once at its end.
#[derive(Default)]
pub(super) struct FacetDelta {
    /// Key → (chunk ids to add, chunk ids to remove).
    changes: BTreeMap<Vec<u8>, (RoaringBitmap, RoaringBitmap)>,
}

impl FacetDelta {
    /// Records that `chunks` now carry `meta`.
    pub fn add(&mut self, meta: &Metadata, chunks: &RoaringBitmap) {
        for (field, value) in meta.pairs() {
            self.changes.entry(key(field, value)).or_default().0 |= chunks;
        }
    }

    /// Records that `chunks` (which carried `meta`) are gone.
    pub fn remove(&mut self, meta: &Metadata, chunks: &RoaringBitmap) {
        for (field, value) in meta.pairs() {
            self.changes.entry(key(field, value)).or_default().1 |= chunks;
        }
    }

    /// Writes the changes; a bitmap left empty is deleted.
    ///
    /// Errors: `Lmdb` on read or write failure, `Corrupt` when a stored bitmap cannot be decoded.
    pub fn apply(self, wtxn: &mut RwTxn, dbs: &Databases) -> Result<(), StoreError> {
        for (key, (add, remove)) in self.changes {
            let mut bitmap = match dbs.facets.get(wtxn, &key)? {
                Some(bytes) => decode_bitmap(bytes)?,
                None => RoaringBitmap::new(),
            };
            bitmap -= remove;
            bitmap |= add;
            if bitmap.is_empty() {
                dbs.facets.delete(wtxn, &key)?;
            } else {
                dbs.facets.put(wtxn, &key, &encode_bitmap(&bitmap)?)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        Metadata {
            domain: "hr".to_owned(),
            department: Some("people".to_owned()),
            doc_type: None,
            tags: vec!["b".to_owned(), "a".to_owned(), "b".to_owned()],
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
    fn validate_names_the_unknown_field() {
        assert!(validate(&filter(&[("domain", &["x"]), ("tags", &["y"])])).is_ok());
        let err = validate(&filter(&[("author", &["x"])]));
        assert!(matches!(err, Err(StoreError::UnknownFilterField { field }) if field == "author"));
    }

    #[test]
    fn long_values_are_refused() {
        let mut m = meta();
        m.tags.push("x".repeat(600));
        assert!(matches!(check_key_sizes(&m, 511), Err(StoreError::KeyLength { .. })));
        assert!(check_key_sizes(&meta(), 511).is_ok());
    }
}
