//! Stable ids and fingerprints.

use sha2::{Digest, Sha256};

/// Stable document id for a source: re-ingesting the same source replaces its document.
pub fn document_id(source: &str) -> String {
    hex::encode(Sha256::digest(source.as_bytes()))[..16].to_owned()
}

/// Short hex sha256 of the parts, each length-prefixed so no two lists collide.
pub fn fingerprint(parts: &[&str]) -> String {
    let bytes: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
    hex::encode(digest(&bytes))[..16].to_owned()
}

/// The sha256 of the parts, each length-prefixed so no two lists collide.
pub fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_delimited() {
        assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
        assert_eq!(fingerprint(&["x"]).len(), 16);
        assert_eq!(document_id("a.md"), document_id("a.md"));
        assert_ne!(document_id("a.md"), document_id("b.md"));
    }
}
