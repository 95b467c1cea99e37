//! Deterministic feature-hashing embedder: no model, no network.
//!
//! Words (lowercased alphanumeric runs) and word bigrams are hashed with FNV-1a 64
//! into `dims` buckets with a sign bit, weighted `1 + ln(tf)`, then L2-normalised.
//! Good enough for tests and offline demos; it matches words, not meaning.

use std::collections::HashMap;

use super::{Embedder, Embeddings};
use crate::providers::ProviderError;

/// Signed feature hashing of words and word bigrams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashEmbedder {
    dims: usize,
}

impl HashEmbedder {
    /// An embedder producing `dims`-dimensional vectors. A `dims` of 0 is taken as 1.
    pub fn new(dims: usize) -> Self {
        Self { dims: dims.max(1) }
    }

    fn embed_one(&self, text: &str) -> (Vec<f32>, usize) {
        let lowered = text.to_lowercase();
        let words: Vec<&str> = lowered
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();

        let mut counts: HashMap<u64, u32> = HashMap::new();
        for word in &words {
            *counts.entry(fnv1a(&[word.as_bytes()])).or_default() += 1;
        }
        for pair in words.windows(2) {
            if let [a, b] = pair {
                // The separator keeps ("ab", "c") apart from ("a", "bc").
                *counts.entry(fnv1a(&[a.as_bytes(), b"\x00", b.as_bytes()])).or_default() += 1;
            }
        }

        let mut vector = vec![0.0_f32; self.dims];
        for (hash, tf) in counts {
            let bucket = usize::try_from(hash % self.dims as u64).unwrap_or_default();
            let sign = if hash >> 63 == 1 { -1.0 } else { 1.0 };
            if let Some(slot) = vector.get_mut(bucket) {
                *slot += sign * (1.0 + (tf as f32).ln());
            }
        }
        normalise_or_fallback(&mut vector);
        (vector, words.len())
    }
}

/// FNV-1a 64 over the concatenated parts. Stable across platforms and Rust versions.
fn fnv1a(parts: &[&[u8]]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    parts
        .iter()
        .flat_map(|p| p.iter())
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

/// L2-normalise in place; an all-zero vector (no words, or every feature
/// cancelled out) becomes the fixed unit vector `e_0` so cosine stays defined.
fn normalise_or_fallback(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > f32::EPSILON {
        vector.iter_mut().for_each(|x| *x /= norm);
    } else {
        vector.iter_mut().for_each(|x| *x = 0.0);
        if let Some(first) = vector.first_mut() {
            *first = 1.0;
        }
    }
}

impl Embedder for HashEmbedder {
    fn id(&self) -> &str {
        "hash/v1"
    }

    fn dims(&self) -> usize {
        self.dims
    }

    fn embed(&self, texts: &[&str]) -> Result<Embeddings, ProviderError> {
        let mut tokens = 0;
        let vectors = texts
            .iter()
            .map(|text| {
                let (vector, words) = self.embed_one(text);
                tokens += words;
                vector
            })
            .collect();
        Ok(Embeddings { vectors, tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cosine(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    fn norm(v: &[f32]) -> f32 {
        v.iter().map(|x| x * x).sum::<f32>().sqrt()
    }

    #[test]
    fn fnv1a_matches_reference_values() {
        assert_eq!(fnv1a(&[b""]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(&[b"a"]), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(&[b"foo", b"bar"]), fnv1a(&[b"foobar"]));
    }

    #[test]
    fn is_deterministic() {
        let e = HashEmbedder::new(64);
        let a = e.embed(&["The cat sat on the mat", "dogs"]).unwrap();
        let b = HashEmbedder::new(64)
            .embed(&["The cat sat on the mat", "dogs"])
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.tokens, 7);
    }

    #[test]
    fn vectors_are_unit_length_including_empty_text() {
        let e = HashEmbedder::new(128);
        let out = e.embed(&["hello world", "", "  !!! ", "a a a a b"]).unwrap();
        for v in &out.vectors {
            assert!((norm(v) - 1.0).abs() < 1e-5, "norm {}", norm(v));
        }
        assert_eq!(out.vectors[1], out.vectors[2]);
    }

    #[test]
    fn shared_words_score_higher_than_disjoint_ones() {
        let e = HashEmbedder::new(256);
        let out = e
            .embed(&[
                "employees get paid annual leave",
                "annual leave for employees",
                "quarterly marketing budget report",
            ])
            .unwrap();
        let [q, near, far] = out.vectors.as_slice() else {
            panic!("three vectors expected");
        };
        assert!(cosine(q, near) > cosine(q, far) + 0.2);
    }

    #[test]
    fn case_and_punctuation_do_not_matter() {
        let e = HashEmbedder::new(32);
        let out = e.embed(&["Hello, World!", "hello world"]).unwrap();
        assert_eq!(out.vectors[0], out.vectors[1]);
    }

    #[test]
    fn dims_are_respected() {
        for dims in [1, 7, 384] {
            let e = HashEmbedder::new(dims);
            assert_eq!(e.dims(), dims);
            let out = e.embed(&["some words here"]).unwrap();
            assert_eq!(out.vectors[0].len(), dims);
        }
        assert_eq!(HashEmbedder::new(0).dims(), 1);
        assert_eq!(HashEmbedder::new(8).id(), "hash/v1");
    }
}
