//! What happens to every answer, whichever way it was asked (HTTP, the OpenAI
//! endpoint, the CLI): the guards' interventions are counted, the prompt version's
//! statistics updated, the query logged for analytics and drift (never its text), and
//! one log line written.

use std::time::{SystemTime, UNIX_EPOCH};

use super::Answer;
use super::run::Asked;
use crate::pipeline::Pipeline;
use crate::prompts::stats::Served;
use crate::stages::guard::GuardAction;
use crate::store::analytics::{Logged, QueryRecord};
use crate::telemetry::record;

/// A new answer id: 32 hex digits.
pub(super) fn answer_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl Pipeline {
    /// Count an answer and log it. `prompted` is false for a query refused before a
    /// prompt was chosen. An answer served from the cache counts toward its prompt
    /// version's statistics only once, when it was generated.
    pub(super) fn done(&self, answer: Answer, asked: &Asked, prompted: bool) -> Answer {
        let (name, resources) = (&self.spec.name, &self.resources);
        let report = &answer.guardrail;
        if !self.spec.guardrails.chain.is_empty() {
            resources.guard_counts.record(name, report.action);
        }
        for r in &report.reasons {
            record::guardrail_intervention(name, &r.guard, r.on.as_str(), r.action.as_str(), r.count);
        }
        if report.action != GuardAction::None {
            let reasons: Vec<String> = report
                .reasons
                .iter()
                .map(|r| format!("{}:{}:{}", r.guard, r.on.as_str(), r.what))
                .collect();
            tracing::info!(pipeline = %name, action = report.action.as_str(), reasons = %reasons.join(", "), "guardrail intervened");
        }
        let (route, usage) = (&answer.route, &answer.usage);
        if prompted && !answer.cache.status.is_hit() {
            resources.stats.record(
                name,
                &route.prompt_version,
                &Served {
                    input_tokens: usage.input_tokens,
                    output_tokens: usage.output_tokens,
                    embedding_tokens: usage.embedding_tokens,
                    cost_usd: usage.cost_usd,
                    latency_ms: answer.latency_ms,
                },
            );
        }
        if let Some(account) = &asked.account {
            let tokens = usage.input_tokens + usage.output_tokens + usage.embedding_tokens;
            resources.spend.add(account, usage.cost_usd, tokens, now_ms());
        }
        self.log_query(&answer, asked, prompted);
        tracing::info!(
            pipeline = %name,
            answer_id = %answer.id,
            session = %asked.session,
            sources = answer.sources.len(),
            model = %route.model,
            prompt = %route.prompt_version,
            assignment = route.assignment.as_str(),
            guardrail = report.action.as_str(),
            cache = answer.cache.status.as_str(),
            input_tokens = usage.input_tokens,
            output_tokens = usage.output_tokens,
            cost_usd = usage.cost_usd,
            latency_ms = answer.latency_ms,
            "query answered"
        );
        answer
    }

    /// Queue the query's record (and its embedding) in the query log.
    fn log_query(&self, answer: &Answer, asked: &Asked, prompted: bool) {
        let Some(log) = self.resources.query_log() else { return };
        let (route, usage) = (&answer.route, &answer.usage);
        let record = QueryRecord {
            id: answer.id.clone(),
            at_ms: now_ms(),
            pipeline: self.spec.name.clone(),
            domains: asked.domains.clone(),
            domain: asked.domain.clone(),
            top_domain: answer.sources.first().map(|h| h.domain.clone()),
            model: if prompted { route.model.clone() } else { String::new() },
            prompt_version: if prompted {
                route.prompt_version.to_string()
            } else {
                String::new()
            },
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            embedding_tokens: usage.embedding_tokens,
            cost_usd: usage.cost_usd,
            latency_ms: answer.latency_ms,
            cache: answer.cache.status.as_str().to_owned(),
            guard: answer.guardrail.action.as_str().to_owned(),
            best_similarity: asked.probe.as_ref().and_then(|p| p.best_similarity),
            feedback: None,
            key_id: asked.account.as_ref().map(|a| a.key_id.clone()),
            role: asked.account.as_ref().map(|a| a.role.clone()),
        };
        let vector = asked.probe.as_ref().map(|p| (p.embedder.clone(), p.vector.clone()));
        log.record(Logged { record, vector });
    }
}
