//! What the cache stores and under which key.
//!
//! An entry lives in a [`Slot`]: the pipeline's group, the epoch and the scope. The
//! **scope** is everything a request shares with the requests an answer may be served
//! to: the pipeline, its effective filter (after the key's grant and the request's
//! own), the role, `top_k`, the routed model, the exact prompt version and the
//! embedder. The **epoch** is the pipeline's configuration (every file it was compiled
//! from) and the index generation, so a reload that changes them, or an ingest, moves
//! every request to a new, empty slot. The question itself is not part of the key
//! except at the exact level: the semantic level compares its vector.
//!
//! A value is the creation time (u64 LE, Unix ms), the unit question vector (u32 LE
//! dimension, then f32 LE each) and the [`Cached`] answer as JSON.

use serde::{Deserialize, Serialize};

use super::verify::normalize;
use crate::prompts::PromptVersion;
use crate::stages::retrieve::Hit;
use crate::store::{QuestionKey, Slot};
use crate::vocab::Filter;
use crate::vocab::ids::digest;

/// What a cached answer was asked for: the scope of [`Slot`].
pub struct Scope<'a> {
    pub pipeline: &'a str,
    pub filter: &'a Filter,
    pub role: &'a str,
    pub top_k: usize,
    pub model: &'a str,
    pub prompt: &'a PromptVersion,
    pub embedder: &'a str,
}

impl Scope<'_> {
    /// The slot of this scope in `epoch`.
    pub fn slot(&self, epoch: &[u8; 8]) -> Slot {
        let mut filter = Vec::new();
        for (field, values) in &self.filter.fields {
            let mut values: Vec<&str> = values.iter().map(String::as_str).collect();
            values.sort_unstable();
            values.dedup();
            filter.push(format!("{field}={}", values.join("\u{1f}")));
        }
        let (top_k, version) = (self.top_k.to_string(), self.prompt.version.as_deref().unwrap_or(""));
        let scope = digest(&[
            self.pipeline.as_bytes(),
            filter.join("\u{1e}").as_bytes(),
            self.role.as_bytes(),
            top_k.as_bytes(),
            self.model.as_bytes(),
            self.prompt.name.as_bytes(),
            version.as_bytes(),
            self.prompt.hash.as_bytes(),
            self.embedder.as_bytes(),
        ]);
        let mut slot = [0; 32];
        slot[..8].copy_from_slice(&group(self.pipeline));
        slot[8..16].copy_from_slice(epoch);
        slot[16..].copy_from_slice(&scope[..16]);
        slot
    }
}

/// The first 8 bytes of every slot of `pipeline`: what clearing it removes.
pub fn group(pipeline: &str) -> [u8; 8] {
    first(&digest(&[b"ragline cache", pipeline.as_bytes()]))
}

/// The epoch of a pipeline compiled from files hashing to `config` over an index at
/// `generation`.
pub fn epoch(config: &[u8; 32], generation: u64) -> [u8; 8] {
    first(&digest(&[config, &generation.to_le_bytes()]))
}

/// The exact level's key of `question`: its normalized form, hashed.
pub fn question_key(question: &str) -> QuestionKey {
    first(&digest(&[normalize(question).as_bytes()]))
}

fn first<const N: usize>(bytes: &[u8; 32]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A cached answer, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cached {
    /// The question it answered, as asked (after the query's guards).
    pub question: String,
    pub text: String,
    /// Its sources, as the guards left them.
    pub sources: Vec<Hit>,
    /// What answering it cost beyond retrieval: the generation and the answer's
    /// guards. A hit saves that much.
    pub saved_usd: f64,
}

/// The value of an entry created at `created_ms` for a question embedded as `vector`
/// (empty: none).
pub fn encode(created_ms: u64, vector: &[f32], cached: &Cached) -> Result<Vec<u8>, serde_json::Error> {
    let unit = unit(vector);
    let mut out = Vec::with_capacity(12 + 4 * unit.len() + 512);
    out.extend(created_ms.to_le_bytes());
    out.extend(u32::try_from(unit.len()).unwrap_or(0).to_le_bytes());
    out.extend(unit.iter().flat_map(|v| v.to_le_bytes()));
    serde_json::to_writer(&mut out, cached)?;
    Ok(out)
}

/// An entry's value, read in place.
pub struct Stored<'a> {
    pub created_ms: u64,
    /// The unit vector, f32 little-endian.
    vector: &'a [u8],
    payload: &'a [u8],
}

impl<'a> Stored<'a> {
    /// `None` when `value` is too short for what its header says (a damaged entry,
    /// which is then never served).
    pub fn decode(value: &'a [u8]) -> Option<Stored<'a>> {
        let created_ms = u64::from_le_bytes(value.get(..8)?.try_into().ok()?);
        let dims = u32::from_le_bytes(value.get(8..12)?.try_into().ok()?) as usize;
        let end = 12usize.checked_add(dims.checked_mul(4)?)?;
        Some(Stored {
            created_ms,
            vector: value.get(12..end)?,
            payload: value.get(end..)?,
        })
    }

    /// Cosine similarity with the unit vector `unit`; `None` when the dimensions differ.
    pub fn similarity(&self, unit: &[f32]) -> Option<f32> {
        (self.vector.len() == unit.len() * 4).then(|| {
            self.vector
                .chunks_exact(4)
                .zip(unit)
                .map(|(b, u)| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) * u)
                .sum()
        })
    }

    /// The answer.
    ///
    /// # Errors
    /// When the JSON does not decode (a damaged entry).
    pub fn cached(&self) -> Result<Cached, serde_json::Error> {
        serde_json::from_slice(self.payload)
    }
}

/// `vector` scaled to length 1 (all zeros stays zeros).
pub fn unit(vector: &[f32]) -> Vec<f32> {
    let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
    let scale = if norm > 0.0 { 1.0 / norm } else { 0.0 };
    vector.iter().map(|v| v * scale).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prompt(hash: &str) -> PromptVersion {
        PromptVersion {
            name: "hr/answer".into(),
            version: Some("v1".into()),
            hash: hash.into(),
        }
    }

    #[test]
    fn entries_round_trip_and_damage_is_refused() {
        let cached = Cached {
            question: "How many days?".into(),
            text: "25 days [1].".into(),
            sources: Vec::new(),
            saved_usd: 0.002,
        };
        let bytes = encode(42, &[3.0, 4.0], &cached).unwrap();
        let stored = Stored::decode(&bytes).unwrap();
        assert_eq!(stored.created_ms, 42);
        assert_eq!(stored.cached().unwrap(), cached);
        let sim = stored.similarity(&unit(&[3.0, 4.0])).unwrap();
        assert!((sim - 1.0).abs() < 1e-6, "{sim}");
        assert_eq!(stored.similarity(&[1.0]), None, "another dimension");
        assert!(Stored::decode(&bytes[..15]).is_none(), "cut inside the vector");
        assert!(
            Stored::decode(&bytes[..20]).unwrap().cached().is_err(),
            "cut inside the JSON"
        );
    }

    #[test]
    fn every_part_of_the_scope_changes_the_slot_and_order_does_not() {
        let mut filter = Filter::default();
        filter.fields.insert("domain".into(), vec!["hr".into(), "legal".into()]);
        let mut swapped = Filter::default();
        swapped
            .fields
            .insert("domain".into(), vec!["legal".into(), "hr".into()]);
        let (p1, p2) = (prompt("aaa"), prompt("bbb"));
        let base = Scope {
            pipeline: "hr",
            filter: &filter,
            role: "employee",
            top_k: 5,
            model: "lite",
            prompt: &p1,
            embedder: "local/minilm",
        };
        let epoch = [1; 8];
        let slot = base.slot(&epoch);
        assert_eq!(
            Scope {
                filter: &swapped,
                ..base
            }
            .slot(&epoch),
            slot
        );
        let other = Filter::default();
        let variants = [
            Scope {
                pipeline: "legal",
                ..base
            },
            Scope { filter: &other, ..base },
            Scope { role: "admin", ..base },
            Scope { top_k: 6, ..base },
            Scope { model: "pro", ..base },
            Scope { prompt: &p2, ..base },
            Scope {
                embedder: "hash",
                ..base
            },
        ];
        for v in variants {
            assert_ne!(v.slot(&epoch), slot);
        }
        assert_ne!(base.slot(&[2; 8]), slot);
        assert_ne!(epoch_of(1), epoch_of(2));
        assert_eq!(question_key("What's the LIMIT?"), question_key("what s the limit"));
    }

    fn epoch_of(generation: u64) -> [u8; 8] {
        epoch(&[0; 32], generation)
    }
}
