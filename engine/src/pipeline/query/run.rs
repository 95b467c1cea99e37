//! The query executor: one query through the stages in order,
//!
//! validate → guard (query) → retrieve → route → generate → guard (answer, sources),
//!
//! each run through `step` (the one place every stage passes through). A query
//! the guards refuse is answered with the refusal (no retrieval, no model call). The
//! answer is then counted: the guards' interventions, the prompt version's statistics
//! and one log line, whichever way it was asked (HTTP, the OpenAI endpoint, the CLI).

use std::sync::Arc;
use std::time::Instant;

use super::cache::{Cache, Pending};
use super::done::answer_id;
use super::{Answer, FallbackInfo, MAX_QUERY_CHARS, Query, QueryError, RouteInfo};
use crate::pipeline::Pipeline;
use crate::pipeline::spend::Account;
use crate::pipeline::step::{elapsed_ms, step, step_async};
use crate::providers::llm::Fallback;
use crate::stages::cache::Outcome;
use crate::stages::generate::{Call, Generated};
use crate::stages::guard::{Check, GuardrailReport};
use crate::stages::retrieve::{Hit, Probe, Retrieved, Search};
use crate::stages::route::{Decision, RouteInput};
use crate::telemetry::{self, record};
use crate::vocab::metadata::FILTER_FIELDS;
use crate::vocab::{Filter, Usage};

/// A query checked against its pipeline.
pub(super) struct Question {
    pub text: String,
    pub top_k: usize,
    /// The pipeline's filter, narrowed by the request.
    pub filter: Filter,
    /// Domains the request asked for (empty: the pipeline's own).
    pub domains: Vec<String>,
    pub role: String,
    /// The user or session that keeps A/B splits sticky.
    pub sticky: Option<String>,
    pub session: String,
    /// The request opted out of the cache.
    pub skip_cache: bool,
    /// The answer is streamed.
    pub streamed: bool,
}

/// Who asked what, as the answer is counted and logged (never the text).
pub(super) struct Asked {
    /// The answer's id.
    pub id: String,
    pub session: String,
    /// The domains the query was restricted to.
    pub domains: Vec<String>,
    /// The domain its cost counts under (see [`Pipeline::domain_label`]).
    pub domain: String,
    /// The query's embedding, when retrieval made one.
    pub probe: Option<Probe>,
    /// The API key that asked, which pays.
    pub account: Option<Account>,
}

/// A query after every stage before generation.
pub(super) struct Ready {
    started: Instant,
    asked: Asked,
    report: GuardrailReport,
    usage: Usage,
    pub hits: Vec<Hit>,
    decision: Decision,
    pub call: Call,
    /// Where the answer is cached, on a cache miss.
    cache: Option<Pending>,
    /// The question, as the query's guards left it.
    question: String,
}

impl Ready {
    /// The route as reported: the model that answered (the routed one unless
    /// `fallback` says otherwise).
    pub fn route(&self, fallback: Option<&Fallback>) -> RouteInfo {
        route_info(&self.decision, self.call.model.provider, fallback)
    }
}

/// The route of `d` as reported, answered by `provider` or by `fallback`.
fn route_info(d: &Decision, provider: &str, fallback: Option<&Fallback>) -> RouteInfo {
    RouteInfo {
        model: fallback.map_or_else(|| d.model.clone(), |f| f.to.clone()),
        provider: fallback.map_or(provider, |f| f.provider).to_owned(),
        prompt: d.prompt.name().to_owned(),
        prompt_version: d.prompt.id.clone(),
        assignment: d.assignment,
        reason: d.reason.clone(),
        fallback: fallback.map(|f| FallbackInfo {
            from: f.from.clone(),
            reason: f.reason.clone(),
        }),
    }
}

/// Where a query stands before generation.
pub(super) enum Prepared {
    /// Answered already: the guards refused it.
    Answered(Box<Answer>),
    Ready(Box<Ready>),
}

impl Pipeline {
    /// Answer one question.
    ///
    /// # Errors
    /// [`QueryError`]: bad requests (empty, too long, bad filters, forbidden domain) and
    /// failures of the store, embedder, route script, generator (after retries and
    /// fallback) or Bedrock guardrail.
    pub async fn query(self: &Arc<Self>, query: Query) -> Result<Answer, QueryError> {
        let ready = match self.prepare(query, false).await? {
            Prepared::Answered(answer) => return Ok(*answer),
            Prepared::Ready(ready) => ready,
        };
        let generated = step_async(&self.spec.name, &self.spec.generate, &ready.call).await?;
        self.release(*ready, generated).await
    }

    /// Retrieve for `query` and decide its route, without guards or generation: what
    /// `ragline route` prints (blocking).
    ///
    /// # Errors
    /// As [`Pipeline::query`], before generation.
    pub fn dry_run_route(&self, query: &Query) -> Result<(RouteInput, Decision), QueryError> {
        let (_, input, decision) = self.retrieve_and_route(&self.validate(query, false)?)?;
        Ok((input, decision))
    }

    /// Every stage before generation.
    pub(super) async fn prepare(self: &Arc<Self>, query: Query, streamed: bool) -> Result<Prepared, QueryError> {
        let started = Instant::now();
        let mut q = self.validate(&query, streamed)?;
        let (guard, prices) = (&self.spec.guardrails, &self.spec.pricing);
        let mut usage = Usage::new(&prices.version);
        let mut report = GuardrailReport::default();

        let admitted = step_async(&self.spec.name, guard, Check::Query(&q.text)).await?;
        usage.extend(guard.usage("guardrail_input", admitted.units, prices));
        report.extend(admitted.reasons);
        let mut asked = Asked {
            id: answer_id(),
            session: q.session.clone(),
            domains: q.filter.fields.get("domain").cloned().unwrap_or_default(),
            domain: self.domain_label(&q.filter),
            probe: None,
            account: query.account.clone(),
        };
        if let Some(refusal) = admitted.refusal {
            let answer = Answer {
                id: asked.id.clone(),
                pipeline: self.spec.name.clone(),
                text: refusal,
                sources: Vec::new(),
                route: RouteInfo::blocked(),
                usage,
                latency_ms: elapsed_ms(started),
                guardrail: report,
                cache: Outcome::BYPASS,
            };
            return Ok(Prepared::Answered(Box::new(self.done(answer, &asked, false))));
        }
        q.text = admitted.text;

        let this = self.clone();
        let (routed, q) = blocking(move || {
            let routed = this.retrieve_and_route(&q).map(|(retrieved, _, decision)| {
                let cache = this.cache_lookup(&q, &retrieved, &decision);
                (retrieved, decision, cache)
            });
            (routed, q)
        })
        .await?;
        let (
            Retrieved {
                hits,
                embedding_tokens,
                probe,
            },
            decision,
            cache,
        ) = routed?;
        asked.probe = probe;
        usage.add(self.spec.ingest.embed.usage("retrieve", embedding_tokens, prices));
        record::route_decision(&self.spec.name, &decision.model, decision.chosen.as_str());
        let cache = match cache {
            Cache::Bypass => None,
            Cache::Miss(pending) => Some(pending),
            Cache::Hit { cached, outcome } => {
                let model = self.spec.generate.models.get(&decision.model);
                let provider = model.map_or("unknown", |m| m.provider);
                let answer = Answer {
                    id: asked.id.clone(),
                    pipeline: self.spec.name.clone(),
                    text: cached.text,
                    sources: cached.sources,
                    route: route_info(&decision, provider, None),
                    usage,
                    latency_ms: elapsed_ms(started),
                    guardrail: report,
                    cache: outcome,
                };
                return Ok(Prepared::Answered(Box::new(self.done(answer, &asked, true))));
            }
        };
        let call = self.spec.generate.prepare(&self.spec.name, &decision, &q.text, &hits)?;
        Ok(Prepared::Ready(Box::new(Ready {
            started,
            asked,
            report,
            usage,
            hits,
            decision,
            call,
            cache,
            question: q.text,
        })))
    }

    /// The answer to a prepared query: `generated`, checked by the guards, with the
    /// usage of every stage; counted.
    pub(super) async fn release(&self, ready: Ready, generated: Generated) -> Result<Answer, QueryError> {
        let route = ready.route(generated.fallback.as_ref());
        let Ready {
            started,
            asked,
            mut report,
            mut usage,
            mut hits,
            cache,
            question,
            ..
        } = ready;
        let before = usage.cost_usd;
        self.record_generation(&route, &generated);
        usage.add(generated.usage);
        let guard = &self.spec.guardrails;
        let check = Check::Answer {
            text: &generated.text,
            hits: &mut hits,
        };
        let checked = step_async(&self.spec.name, guard, check).await?;
        report.extend(checked.reasons);
        usage.extend(guard.usage("guardrail_output", checked.units, &self.spec.pricing));
        let text = match checked.refusal {
            Some(refusal) => {
                hits.clear();
                refusal
            }
            None => checked.text,
        };
        record::query_cost(&self.spec.name, &route.model, &asked.domain, usage.cost_usd);
        let answer = Answer {
            id: asked.id.clone(),
            pipeline: self.spec.name.clone(),
            text,
            sources: hits,
            route,
            usage,
            latency_ms: elapsed_ms(started),
            guardrail: report,
            cache: cache.as_ref().map_or(Outcome::BYPASS, |p| p.outcome),
        };
        if let Some(pending) = cache {
            self.cache_store(pending, &question, &answer, answer.usage.cost_usd - before);
        }
        Ok(self.done(answer, &asked, true))
    }

    /// The model call's metrics: its duration and tokens, and a fallback if one answered.
    fn record_generation(&self, route: &RouteInfo, generated: &Generated) {
        let model = &generated.answered_by;
        record::gen_ai(&record::GenAiCall {
            pipeline: &self.spec.name,
            operation: "chat",
            provider: model.provider,
            model: model.model_id.as_deref().unwrap_or(model.provider),
            seconds: Some(generated.seconds),
            input_tokens: generated.usage.input_tokens,
            output_tokens: generated.usage.output_tokens,
        });
        if let Some(f) = &route.fallback {
            record::fallback(&self.spec.name, &f.from, &route.model);
        }
    }

    /// The domain a query's cost counts under: the one domain it was restricted to (by
    /// the request or the pipeline), `multi` for several, `all` for none. A domain the
    /// pipeline does not declare (in its filter or its default metadata) is `other`.
    fn domain_label(&self, filter: &Filter) -> String {
        let declared = self.spec.retrieve.filter.fields.get("domain");
        let default = self.spec.ingest.defaults.domain.as_str();
        match filter.fields.get("domain").map(Vec::as_slice) {
            None | Some([]) => "all".to_owned(),
            Some([one]) => {
                let allowed = declared.into_iter().flatten().map(String::as_str).chain([default]);
                telemetry::bounded(one, allowed).to_owned()
            }
            Some(_) => "multi".to_owned(),
        }
    }

    /// Check `query` against the pipeline: its text, `top_k` and filters.
    fn validate(&self, query: &Query, streamed: bool) -> Result<Question, QueryError> {
        let text = query.text.trim().to_owned();
        if text.is_empty() {
            return Err(QueryError::EmptyQuery);
        }
        let chars = text.chars().count();
        if chars > MAX_QUERY_CHARS {
            return Err(QueryError::QueryTooLong(chars));
        }
        let top_k = match query.top_k {
            None => self.spec.retrieve.top_k,
            Some(k) if (1..=50).contains(&k) => k,
            Some(_) => return Err(QueryError::BadTopK),
        };
        Ok(Question {
            text,
            top_k,
            filter: self.effective_filter(query)?,
            domains: query.domains.clone().unwrap_or_default(),
            role: query.role.clone().unwrap_or_default(),
            sticky: query.sticky_key().map(str::to_owned),
            session: query.session_id.clone().unwrap_or_default(),
            skip_cache: query.skip_cache,
            streamed,
        })
    }

    /// The pipeline's filter narrowed by the request; never widened.
    fn effective_filter(&self, query: &Query) -> Result<Filter, QueryError> {
        let mut requested = query.filters.clone();
        if let Some(domains) = &query.domains {
            requested.insert("domain".to_owned(), domains.clone());
        }
        let mut filter = self.spec.retrieve.filter.clone();
        for (field, values) in requested {
            if !FILTER_FIELDS.contains(&field.as_str()) {
                return Err(QueryError::UnknownFilterField(field));
            }
            if values.is_empty() {
                continue;
            }
            if let Some(allowed) = filter.fields.get(&field)
                && let Some(bad) = values.iter().find(|v| !allowed.contains(v))
            {
                return Err(QueryError::Forbidden {
                    pipeline: self.spec.name.clone(),
                    field,
                    value: bad.clone(),
                    allowed: allowed.join(", "),
                });
            }
            filter.fields.insert(field, values);
        }
        if let Some(granted) = &query.granted_domains {
            let list = || granted.join(", ");
            if let Some(bad) = query.domains.iter().flatten().find(|d| !granted.contains(d)) {
                return Err(QueryError::DomainNotGranted {
                    domain: bad.clone(),
                    granted: list(),
                });
            }
            return filter
                .narrowed("domain", granted)
                .ok_or_else(|| QueryError::NothingGranted {
                    pipeline: self.spec.name.clone(),
                    granted: list(),
                    own: filter.fields.get("domain").map(|d| d.join(", ")).unwrap_or_default(),
                });
        }
        Ok(filter)
    }

    /// The retrieve stage on the pipeline's index and embedder, then the route stage on
    /// what it found (blocking: the index, the embedder and the route script run here).
    fn retrieve_and_route(&self, q: &Question) -> Result<(Retrieved, RouteInput, Decision), QueryError> {
        let (index, embedder) = (self.index()?, self.embedder()?);
        let search = Search {
            pipeline: &self.spec.name,
            index_name: &self.spec.index,
            index: &index,
            embedder: embedder.as_ref(),
            question: &q.text,
            filter: &q.filter,
            limit: q.top_k,
        };
        let retrieved = step(&self.spec.name, &self.spec.retrieve, search)?;
        let input = RouteInput::new(
            &self.spec.name,
            &q.text,
            &retrieved.hits,
            q.domains.clone(),
            q.role.clone(),
        );
        let decision = step(&self.spec.name, &self.spec.route, (&input, q.sticky.as_deref()))?;
        Ok((retrieved, input, decision))
    }
}

/// Run blocking work (the index, the embedder, a script) off the async threads.
///
/// # Errors
/// [`QueryError::Worker`] when the work panicked.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, QueryError> {
    // The work's spans belong to this request's trace.
    let span = tracing::Span::current();
    Ok(tokio::task::spawn_blocking(move || span.in_scope(work)).await?)
}
