//! One lookup: the exact level, then the semantic level with its checks.

use super::config::CacheStage;
use super::entry::{Cached, Stored, question_key};
use super::verify::{Check, Signature, coverage, first_failed, source_overlap};
use super::{Backend, CacheError, Status};
use crate::stages::Run;
use crate::stages::retrieve::Hit;
use crate::store::Slot;

/// Semantic candidates checked per lookup, best first.
const CANDIDATES: usize = 4;

/// What a lookup is given.
pub struct Lookup<'a> {
    pub backend: &'a dyn Backend,
    pub slot: Slot,
    /// The question, as the query's guards left it.
    pub question: &'a str,
    /// Its unit embedding, when retrieval made one.
    pub vector: Option<&'a [f32]>,
    /// What the question retrieved, best first.
    pub fresh: &'a [Hit],
    pub now_ms: u64,
}

/// What a lookup found.
#[derive(Debug)]
pub struct Found {
    /// `Exact`, `Semantic` or `Miss`.
    pub status: Status,
    /// The served entry's similarity, or on a miss the nearest entry's.
    pub similarity: Option<f32>,
    /// The answer and when it was created, on a hit.
    pub hit: Option<(Cached, u64)>,
    /// The check each rejected candidate failed, best candidate first.
    pub rejected: Vec<Check>,
}

impl Run for CacheStage {
    type Input<'a> = Lookup<'a>;
    type Output = Found;
    type Error = CacheError;

    fn run(&self, l: Lookup<'_>) -> Result<Found, CacheError> {
        let fresh_after = l.now_ms.saturating_sub(self.ttl_ms);
        if let Some(value) = l.backend.get(&l.slot, &question_key(l.question))?
            && let Some(stored) = Stored::decode(&value)
            && stored.created_ms >= fresh_after
            && let Ok(cached) = stored.cached()
        {
            return Ok(Found {
                status: Status::Exact,
                similarity: Some(1.0),
                hit: Some((cached, stored.created_ms)),
                rejected: Vec::new(),
            });
        }
        let mut found = Found {
            status: Status::Miss,
            similarity: None,
            hit: None,
            rejected: Vec::new(),
        };
        let Some(unit) = l.vector else { return Ok(found) };
        // The best entries at or above the threshold, and the nearest of all.
        let mut candidates: Vec<(f32, Vec<u8>)> = Vec::new();
        l.backend.scan(&l.slot, &mut |value| {
            let Some(stored) = Stored::decode(value).filter(|s| s.created_ms >= fresh_after) else {
                return;
            };
            let Some(sim) = stored.similarity(unit) else { return };
            found.similarity = Some(found.similarity.map_or(sim, |s: f32| s.max(sim)));
            if sim >= self.similarity {
                let at = candidates.partition_point(|(s, _)| *s >= sim);
                if at < CANDIDATES {
                    candidates.insert(at, (sim, value.to_vec()));
                    candidates.truncate(CANDIDATES);
                }
            }
        })?;
        let asked = Signature::of(l.question);
        for (sim, value) in candidates {
            let Some((stored, cached)) = Stored::decode(&value).and_then(|s| Some((s.created_ms, s.cached().ok()?)))
            else {
                continue;
            };
            match self.verify(&cached, &asked, l.fresh) {
                Some(check) => found.rejected.push(check),
                None => {
                    found.status = Status::Semantic;
                    found.similarity = Some(sim);
                    found.hit = Some((cached, stored));
                    break;
                }
            }
        }
        Ok(found)
    }
}

impl CacheStage {
    /// The first check a candidate fails, or `None` when it may be served.
    pub fn verify(&self, cached: &Cached, asked: &Signature, fresh: &[Hit]) -> Option<Check> {
        if let Some(check) = first_failed(self.checks, &Signature::of(&cached.question), asked) {
            return Some(check);
        }
        if self.sources > 0 {
            let ids: Vec<u32> = cached.sources.iter().map(|h| h.chunk_id).collect();
            let fresh_ids: Vec<u32> = fresh.iter().map(|h| h.chunk_id).collect();
            if source_overlap(&ids, &fresh_ids, self.sources) < self.min_source_overlap {
                return Some(Check::Sources);
            }
            if coverage(&cached.sources, fresh, self.sources).is_some_and(|c| c < self.min_coverage) {
                return Some(Check::Coverage);
            }
        }
        None
    }
}
