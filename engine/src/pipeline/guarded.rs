//! The public ways to ask a pipeline, [`Pipeline::query`] and [`Pipeline::query_stream`],
//! and the guardrails around them ([`crate::stages::guard`]): the query is checked before
//! retrieval and generation (and masked before anything downstream, logs included,
//! sees it); the answer and its sources are checked before they are returned.
//!
//! A blocked query is answered with the refusal message (HTTP 200, `guardrail.action:
//! blocked`): no retrieval, no model call, no sources, `route.provider: guardrail`. A
//! blocked answer is replaced by the refusal message and its sources are dropped.
//! Bedrock guardrail calls appear in `usage.stages` as `guardrail_input` and
//! `guardrail_output`, with their text units and cost. Each checked query is counted
//! per pipeline by its final action.
//!
//! Streaming ([`Pipeline::query_stream`]): when a guard checks answers, the
//! answer is held back until it is complete and checked, then sent as one delta
//! (PII can span deltas, and Bedrock checks whole texts); otherwise deltas flow as
//! generated.

use std::sync::Arc;
use std::time::Instant;

use futures_util::{StreamExt, stream};

use super::Pipeline;
use super::query::{MAX_QUERY_CHARS, QueryError, QueryRequest, QueryResponse, RouteInfo, Source, StageUsage, Usage};
use super::stream::{QueryEvent, QueryStream};
use crate::prompts::{Assignment, PromptVersion};
use crate::providers::llm::Generator as _;
use crate::stages::guard::{GuardAction, GuardSide, GuardrailReport};

/// `route.provider` of a query the guardrails refused before any model was called.
pub const BLOCKED_PROVIDER: &str = "guardrail";

/// A query after the input guards.
#[expect(clippy::large_enum_variant, reason = "built once per request and matched at once")]
pub(super) enum Admission {
    /// Go on with this request (its query masked where a guard masked).
    Pass { request: QueryRequest, input: InputCheck },
    /// Refused: the whole response.
    Blocked(Box<QueryResponse>),
}

/// What the input guards did, carried to the answer's check.
pub(super) struct InputCheck {
    started: Instant,
    report: GuardrailReport,
    bedrock_units: Option<u64>,
}

impl QueryResponse {
    /// Whether the guardrails refused the query before retrieval and generation.
    pub fn blocked_before_model(&self) -> bool {
        self.route.provider == BLOCKED_PROVIDER
    }
}

impl Pipeline {
    /// Run the guards that check queries.
    ///
    /// # Errors
    /// [`QueryError::Provider`] when the Bedrock guardrail cannot be applied.
    pub(super) async fn admit(&self, mut request: QueryRequest) -> Result<Admission, QueryError> {
        let started = Instant::now();
        let mut input = InputCheck {
            started,
            report: GuardrailReport::default(),
            bedrock_units: None,
        };
        let chain = &self.spec.guardrails.chain;
        let question = request.query.trim();
        // Invalid queries are refused by `prepare` with their own error, unchecked.
        if !chain.applies_to(GuardSide::Query) || question.is_empty() || question.chars().count() > MAX_QUERY_CHARS {
            return Ok(Admission::Pass { request, input });
        }
        let checked = chain.check(question, GuardSide::Query).await?;
        input.report.extend(checked.reasons);
        input.bedrock_units = checked.bedrock_units;
        if checked.action == GuardAction::Blocked {
            let mut usage = Usage {
                pricing_version: self.spec.pricing.version.clone(),
                ..Usage::default()
            };
            self.add_guard_usage(&mut usage, "guardrail_input", input.bedrock_units);
            let response = QueryResponse {
                pipeline: self.spec.name.clone(),
                answer: checked
                    .refusal
                    .unwrap_or_else(|| self.spec.guardrails.refusal_message.clone()),
                sources: Vec::new(),
                route: blocked_route(),
                usage,
                latency_ms: started.elapsed().as_secs_f64() * 1000.0,
                guardrail: input.report,
            };
            self.count(&response.guardrail);
            return Ok(Admission::Blocked(Box::new(response)));
        }
        request.query = checked.text;
        Ok(Admission::Pass { request, input })
    }

    /// Run the guards that check answers on `response` (masking its sources too), and
    /// report both checks in it.
    ///
    /// # Errors
    /// [`QueryError::Provider`] when the Bedrock guardrail cannot be applied.
    pub(super) async fn release(
        &self,
        mut response: QueryResponse,
        input: InputCheck,
    ) -> Result<QueryResponse, QueryError> {
        let guardrails = &self.spec.guardrails;
        if guardrails.chain.is_empty() {
            return Ok(response);
        }
        let mut report = input.report;
        let mut output_units = None;
        if guardrails.chain.applies_to(GuardSide::Answer) {
            let checked = guardrails.chain.check(&response.answer, GuardSide::Answer).await?;
            output_units = checked.bedrock_units;
            report.extend(checked.reasons);
            if checked.action == GuardAction::Blocked {
                response.answer = checked.refusal.unwrap_or_else(|| guardrails.refusal_message.clone());
                response.sources.clear();
            } else {
                response.answer = checked.text;
                let found = guardrails.chain.mask_sources(source_texts(&mut response.sources));
                report.extend(found);
            }
        }
        let mut usage = std::mem::take(&mut response.usage);
        if let Some(units) = input.bedrock_units {
            self.add_guard_usage(&mut usage, "guardrail_input", Some(units));
            // It ran first.
            usage.stages.rotate_right(1);
        }
        self.add_guard_usage(&mut usage, "guardrail_output", output_units);
        response.usage = usage;
        response.guardrail = report;
        response.latency_ms = input.started.elapsed().as_secs_f64() * 1000.0;
        self.count(&response.guardrail);
        Ok(response)
    }

    /// Answer one question.
    ///
    /// # Errors
    /// [`QueryError`]: bad requests (empty, too long, bad filters, forbidden domain) and
    /// failures of the store, embedder or generator (after retries and fallback).
    /// The guardrails check the query first and the answer last.
    pub async fn query(self: &Arc<Self>, request: QueryRequest) -> Result<QueryResponse, QueryError> {
        let (request, input) = match self.admit(request).await? {
            Admission::Pass { request, input } => (request, input),
            Admission::Blocked(response) => return Ok(*response),
        };
        let prepared = self.prepare(request).await?;
        let generation = prepared.model.generator.generate(&prepared.request).await?;
        self.release(self.finish(prepared, generation), input).await
    }

    /// Answer one question as a stream of [`QueryEvent`]s, inside the guardrails: the
    /// query checked first (a refusal streams as route, one delta, done), the answer
    /// checked before it is sent when a guard checks answers (then it arrives as one
    /// delta), the sources masked.
    ///
    /// # Errors
    /// Everything [`Pipeline::query`] can fail with before the first piece of the answer,
    /// including a generation that fails before producing any text (after its retries
    /// and fallback), and [`QueryError::Provider`] when the Bedrock guardrail cannot be
    /// applied to the query.
    pub async fn query_stream(self: &Arc<Self>, request: QueryRequest) -> Result<QueryStream, QueryError> {
        let (request, input) = match self.admit(request).await? {
            Admission::Blocked(response) => return Ok(blocked_stream(*response)),
            Admission::Pass { request, input } => (request, input),
        };
        let inner = self.unguarded_query_stream(request).await?;
        if self.spec.guardrails.chain.is_empty() {
            return Ok(inner);
        }
        let hold = self.spec.guardrails.chain.applies_to(GuardSide::Answer);
        let state = (inner, Some(input), self.clone());
        let events = stream::unfold(state, move |(mut inner, mut input, this)| async move {
            let out = match inner.next().await? {
                QueryEvent::Route { route, mut sources } => {
                    this.spec.guardrails.chain.mask_sources(source_texts(&mut sources));
                    vec![QueryEvent::Route { route, sources }]
                }
                QueryEvent::Delta(_) if hold => Vec::new(),
                QueryEvent::Done(response) => match input.take() {
                    None => vec![QueryEvent::Done(response)],
                    Some(check) => match this.release(*response, check).await {
                        Ok(response) if hold => {
                            vec![
                                QueryEvent::Delta(response.answer.clone()),
                                QueryEvent::Done(Box::new(response)),
                            ]
                        }
                        Ok(response) => vec![QueryEvent::Done(Box::new(response))],
                        Err(e) => vec![QueryEvent::Error(e)],
                    },
                },
                other => vec![other],
            };
            Some((stream::iter(out), (inner, input, this)))
        });
        Ok(Box::pin(events.flatten()))
    }

    /// Add a Bedrock guardrail call's units and cost to `usage`.
    fn add_guard_usage(&self, usage: &mut Usage, stage: &str, units: Option<u64>) {
        let (Some(units), Some(bedrock)) = (units, self.spec.guardrails.chain.bedrock()) else {
            return;
        };
        usage.add(StageUsage {
            stage: stage.to_owned(),
            model: bedrock.guardrail.label(),
            guardrail_units: units,
            cost_usd: self.spec.pricing.guardrail_cost(units),
            ..StageUsage::default()
        });
    }

    /// Count one checked query, and log an intervention (never the text).
    fn count(&self, report: &GuardrailReport) {
        self.resources.guard_counts.record(&self.spec.name, report.action);
        if report.action != GuardAction::None {
            let reasons: Vec<String> = report
                .reasons
                .iter()
                .map(|r| format!("{}:{}:{}", r.guard, r.on.as_str(), r.what))
                .collect();
            tracing::info!(
                pipeline = %self.spec.name,
                action = report.action.as_str(),
                reasons = %reasons.join(", "),
                "guardrail intervened"
            );
        }
    }
}

/// The route of a query refused before routing: no model, no prompt.
fn blocked_route() -> RouteInfo {
    RouteInfo {
        model: "none".to_owned(),
        provider: BLOCKED_PROVIDER.to_owned(),
        prompt: String::new(),
        prompt_version: PromptVersion {
            name: String::new(),
            version: None,
            hash: String::new(),
        },
        assignment: Assignment::Fixed,
        reason: "refused by the guardrails before retrieval; no model was called".to_owned(),
        fallback: None,
    }
}

/// A refusal as a stream: route, the refusal as one delta, done.
fn blocked_stream(response: QueryResponse) -> QueryStream {
    let events = vec![
        QueryEvent::Route {
            route: response.route.clone(),
            sources: Vec::new(),
        },
        QueryEvent::Delta(response.answer.clone()),
        QueryEvent::Done(Box::new(response)),
    ];
    Box::pin(stream::iter(events))
}

/// What the guards mask in returned sources: each one's text, title and section
/// (a heading can hold an e-mail address as well as the text under it).
fn source_texts(sources: &mut [Source]) -> impl Iterator<Item = &mut String> {
    sources.iter_mut().flat_map(
        |Source {
             text, title, section, ..
         }| [Some(text), Some(title), section.as_mut()].into_iter().flatten(),
    )
}
