//! The cache step of a query: after retrieval and routing (the scope needs the routed
//! model and prompt version, the checks need the new question's sources), before
//! generation. A hit answers at once; a miss is stored once it is answered, if its
//! answer may be served again. See `docs/adr/0008-cache-after-routing.md`.

use std::sync::Arc;

use super::run::Question;
use super::{Answer, now_ms};
use crate::pipeline::Pipeline;
use crate::pipeline::step::step;
use crate::stages::cache::entry::{self, Cached, Scope};
use crate::stages::cache::{Backend, CacheError, CacheStage, Found, Lookup, Outcome, Status};
use crate::stages::guard::{GuardAction, GuardSide};
use crate::stages::retrieve::Retrieved;
use crate::stages::route::Decision;
use crate::store::{QuestionKey, Slot};
use crate::telemetry::record;

/// Why a query did not consult the cache.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bypass {
    /// The pipeline has no `cache:` section.
    Off,
    /// The request asked for a fresh answer (`"cache": false`).
    Requested,
    /// A streamed request, and the cache does not serve streams.
    Stream,
    /// The backend failed; the query goes on without it.
    Unavailable,
}

impl Bypass {
    fn as_str(self) -> &'static str {
        match self {
            Bypass::Off => "off",
            Bypass::Requested => "requested",
            Bypass::Stream => "stream",
            Bypass::Unavailable => "unavailable",
        }
    }
}

/// What the cache step decided.
pub(super) enum Cache {
    Bypass,
    /// Served from the cache.
    Hit {
        cached: Cached,
        outcome: Outcome,
    },
    /// To be answered, then stored here.
    Miss(Pending),
}

/// Where a missed answer goes once it is answered.
pub(super) struct Pending {
    backend: Arc<dyn Backend>,
    slot: Slot,
    question: QuestionKey,
    vector: Vec<f32>,
    pub outcome: Outcome,
}

impl Pipeline {
    /// The backend of the pipeline's cache (blocking: opens the index or connects).
    fn cache_backend(&self, stage: &CacheStage) -> Result<Arc<dyn Backend>, CacheError> {
        match &stage.backend {
            crate::stages::cache::BackendSpec::Embedded => Ok(self.index()?),
            crate::stages::cache::BackendSpec::Redis(spec) => Ok(self.resources.redis.get(spec)?),
        }
    }

    /// The cache step for a retrieved and routed question (blocking).
    pub(super) fn cache_lookup(&self, q: &Question, retrieved: &Retrieved, decision: &Decision) -> Cache {
        let name = &self.spec.name;
        let Some(stage) = &self.spec.cache else {
            return bypass(name, Bypass::Off);
        };
        if q.skip_cache {
            return bypass(name, Bypass::Requested);
        }
        if q.streamed && !stage.stream {
            return bypass(name, Bypass::Stream);
        }
        match self.try_lookup(stage, q, retrieved, decision) {
            Ok(cache) => cache,
            Err(error) => {
                tracing::warn!(pipeline = %name, %error, "cache unavailable; answering without it");
                bypass(name, Bypass::Unavailable)
            }
        }
    }

    fn try_lookup(
        &self,
        stage: &CacheStage,
        q: &Question,
        retrieved: &Retrieved,
        decision: &Decision,
    ) -> Result<Cache, CacheError> {
        let backend = self.cache_backend(stage)?;
        let generation = self.index()?.generation()?;
        let embedder = retrieved
            .probe
            .as_ref()
            .map_or_else(|| self.spec.ingest.embed.id(), |p| p.embedder.clone());
        let slot = Scope {
            pipeline: &self.spec.name,
            filter: &q.filter,
            role: &q.role,
            top_k: q.top_k,
            model: &decision.model,
            prompt: &decision.prompt.id,
            embedder: &embedder,
        }
        .slot(&entry::epoch(&self.spec.config_hash, generation));
        let vector = retrieved
            .probe
            .as_ref()
            .map(|p| entry::unit(&p.vector))
            .unwrap_or_default();
        let now = now_ms();
        let found = step(
            &self.spec.name,
            stage,
            Lookup {
                backend: backend.as_ref(),
                slot,
                question: &q.text,
                vector: (!vector.is_empty()).then_some(vector.as_slice()),
                fresh: &retrieved.hits,
                now_ms: now,
            },
        )?;
        Ok(self.judged(found, now, backend, slot, &q.text, vector))
    }

    /// Count what a lookup found and turn it into the step's decision.
    fn judged(
        &self,
        found: Found,
        now: u64,
        backend: Arc<dyn Backend>,
        slot: Slot,
        text: &str,
        vector: Vec<f32>,
    ) -> Cache {
        let name = &self.spec.name;
        record::cache_lookup(name, found.status.as_str());
        if let Some(sim) = found.similarity {
            record::cache_similarity(name, found.status.is_hit(), f64::from(sim));
        }
        for check in &found.rejected {
            record::cache_rejected(name, check.as_str());
        }
        match found.hit {
            Some((cached, created_ms)) => {
                record::cache_saved(name, cached.saved_usd);
                let outcome = Outcome {
                    status: found.status,
                    similarity: found.similarity,
                    age_s: Some(now.saturating_sub(created_ms) as f64 / 1000.0),
                    saved_usd: cached.saved_usd,
                };
                Cache::Hit { cached, outcome }
            }
            None => Cache::Miss(Pending {
                backend,
                slot,
                question: entry::question_key(text),
                vector,
                outcome: Outcome {
                    status: Status::Miss,
                    similarity: found.similarity,
                    age_s: None,
                    saved_usd: 0.0,
                },
            }),
        }
    }

    /// Store a missed query's answer, unless it must not be served again: refused or
    /// masked on the query side (the question held something personal), or given by a
    /// fallback model when the cache does not keep those. Runs off the request
    /// (blocking), then garbage-collects the pipeline's entries.
    pub(super) fn cache_store(&self, pending: Pending, question: &str, answer: &Answer, saved_usd: f64) {
        let Some(stage) = self.spec.cache.clone() else { return };
        let report = &answer.guardrail;
        let refused = report.action == GuardAction::Blocked;
        let personal = report.reasons.iter().any(|r| r.on == GuardSide::Query);
        let fallback = answer.route.fallback.is_some() && !stage.cache_fallbacks;
        if refused || personal || fallback {
            return;
        }
        let created = now_ms();
        let cached = Cached {
            question: question.to_owned(),
            text: answer.text.clone(),
            sources: answer.sources.clone(),
            saved_usd,
        };
        let name = self.spec.name.clone();
        tokio::task::spawn_blocking(move || {
            let stored = entry::encode(created, &pending.vector, &cached)
                .map_err(CacheError::from)
                .and_then(|value| {
                    let b = &pending.backend;
                    b.put(&pending.slot, &pending.question, &value, stage.ttl_ms)?;
                    let mut live = [0; 8];
                    live.copy_from_slice(&pending.slot[8..16]);
                    b.collect(
                        &entry::group(&name),
                        &live,
                        created.saturating_sub(stage.ttl_ms),
                        stage.max_entries,
                    )
                });
            match stored {
                Ok(collected) => tracing::debug!(pipeline = %name, ?collected, "answer cached"),
                Err(error) => {
                    record::cache_bypass(&name, Bypass::Unavailable.as_str());
                    tracing::warn!(pipeline = %name, %error, "answer not cached");
                }
            }
        });
    }

    /// Remove every cached answer of this pipeline (blocking); how many there were.
    ///
    /// # Errors
    /// [`CacheError`] when the backend fails; `Ok(0)` when the pipeline has no cache.
    pub fn clear_cache(&self) -> Result<u64, CacheError> {
        let Some(stage) = &self.spec.cache else { return Ok(0) };
        self.cache_backend(stage)?.clear(&entry::group(&self.spec.name))
    }
}

fn bypass(pipeline: &str, why: Bypass) -> Cache {
    record::cache_lookup(pipeline, Status::Bypass.as_str());
    record::cache_bypass(pipeline, why.as_str());
    Cache::Bypass
}
