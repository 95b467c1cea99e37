//! Health, readiness and the pipeline listing.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::{Principal, may_see};
use super::wire::{InterventionCounts, PromptInfo, PromptVersion, ReloadStatus};
use super::{ApiError, AppState};
use crate::pipeline::{Engine, Pipeline};
use crate::prompts::PromptChoice;
use crate::stages::cache::{BackendSpec, CacheStage};

/// Liveness.
#[derive(Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// Readiness: config loaded and every index open.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    pub status: &'static str,
    pub pipelines: usize,
    /// Problems keeping the server from being ready.
    pub problems: Vec<String>,
    /// `keys` (access.yaml: requests need an API key) or `open` (no access.yaml:
    /// anyone who reaches the port can call every endpoint).
    pub auth: &'static str,
}

/// A loaded pipeline.
#[derive(Serialize, ToSchema)]
pub struct PipelineInfo {
    pub name: String,
    pub description: String,
    pub index: String,
    /// Pipeline file it was loaded from.
    pub file: String,
    pub endpoints: Endpoints,
    /// Embedder, e.g. `local` (384 dims).
    pub embedder: String,
    /// Model names and their providers.
    pub models: Vec<ModelInfo>,
    pub default_route: DefaultRoute,
    /// Every prompt the route names, with all its versions, which are live (and their
    /// A/B weights), and what each served.
    pub prompts: Vec<PromptInfo>,
    /// Restriction every query gets, by metadata field.
    #[schema(value_type = Object)]
    pub filter: std::collections::BTreeMap<String, Vec<String>>,
    /// The guardrails and what they did since the server started.
    pub guardrails: GuardrailsInfo,
    /// The answer cache's settings; absent when the pipeline caches nothing.
    pub cache: Option<CacheSettings>,
}

/// A pipeline's answer cache (see `docs/cache.md`).
#[derive(Serialize, ToSchema)]
pub struct CacheSettings {
    /// `embedded` or `redis`.
    pub backend: &'static str,
    /// The least cosine similarity of a semantic candidate.
    pub similarity: f32,
    /// How long an entry may be served, in seconds.
    pub ttl_s: u64,
    pub max_entries: usize,
    /// Whether streamed requests are served and stored.
    pub stream: bool,
}

impl From<&CacheStage> for CacheSettings {
    fn from(c: &CacheStage) -> Self {
        CacheSettings {
            backend: match c.backend {
                BackendSpec::Embedded => "embedded",
                BackendSpec::Redis(_) => "redis",
            },
            similarity: c.similarity,
            ttl_s: c.ttl_ms / 1000,
            max_entries: c.max_entries,
            stream: c.stream,
        }
    }
}

/// A pipeline's guardrails.
#[derive(Serialize, ToSchema)]
pub struct GuardrailsInfo {
    /// The guards, in the order they run: `content_filter`, `denied_topic`, `pii`, `bedrock`.
    pub guards: Vec<&'static str>,
    /// The answer to a refused query.
    pub refusal_message: String,
    /// Queries checked, by final action (since the server started; reloads keep them).
    pub interventions: InterventionCounts,
}

/// Endpoints of one pipeline.
#[derive(Serialize, ToSchema)]
pub struct Endpoints {
    pub query: String,
    pub documents: String,
}

/// An answer model.
#[derive(Serialize, ToSchema)]
pub struct ModelInfo {
    pub name: String,
    pub provider: String,
}

/// The route used when no rule decides.
#[derive(Serialize, ToSchema)]
pub struct DefaultRoute {
    pub model: String,
    /// The prompt as the pipeline names it, e.g. `hr/answer` or `hr/answer@v2`.
    pub prompt: String,
    /// The version it serves; null when an A/B split serves several (see `prompts`).
    pub prompt_version: Option<PromptVersion>,
}

/// The loaded pipelines and the state of config reloads.
#[derive(Serialize, ToSchema)]
pub struct PipelineList {
    pub pipelines: Vec<PipelineInfo>,
    pub reload: ReloadStatus,
}

fn info(engine: &Engine, p: &Pipeline) -> PipelineInfo {
    let s = &p.spec;
    let base = format!("/v1/pipelines/{}", s.name);
    PipelineInfo {
        name: s.name.clone(),
        description: s.description.clone(),
        index: s.index.clone(),
        file: s.file.display().to_string(),
        endpoints: Endpoints {
            query: format!("{base}/query"),
            documents: format!("{base}/documents"),
        },
        embedder: format!("{} ({} dims)", s.ingest.embed.provider(), s.ingest.embed.dims()),
        models: s
            .generate
            .models
            .iter()
            .map(|(n, g)| ModelInfo {
                name: n.clone(),
                provider: g.provider.to_owned(),
            })
            .collect(),
        default_route: DefaultRoute {
            model: s.route.default.model.clone(),
            prompt: s.route.default.reference.clone(),
            prompt_version: match &s.route.default.prompt {
                PromptChoice::Fixed(p) => Some(PromptVersion::from(&p.id)),
                PromptChoice::Split(_) => None,
            },
        },
        prompts: p
            .prompt_listing(&engine.resources.stats.of(&s.name))
            .iter()
            .map(PromptInfo::from)
            .collect(),
        filter: s.retrieve.filter.fields.clone(),
        guardrails: GuardrailsInfo {
            guards: s.guardrails.chain.names(),
            refusal_message: s.guardrails.refusal_message.clone(),
            interventions: engine.resources.guard_counts.of(&s.name).into(),
        },
        cache: s.cache.as_ref().map(CacheSettings::from),
    }
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: pipelines loaded and their indexes open.
#[utoipa::path(get, path = "/readyz", responses((status = 200, body = Ready), (status = 503, body = Ready)))]
pub async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, Json<Ready>) {
    let snapshot = state.engine.snapshot();
    let mut problems = Vec::new();
    if snapshot.pipelines.is_empty() {
        problems.push("no pipelines loaded".to_owned());
    }
    for p in snapshot.pipelines.values() {
        if let Err(e) = p.index() {
            problems.push(format!("pipeline {}: {e}", p.spec.name));
        }
    }
    let ready = problems.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Ready {
            status: if ready { "ready" } else { "not_ready" },
            pipelines: snapshot.pipelines.len(),
            problems,
            auth: if snapshot.access.is_some() { "keys" } else { "open" },
        }),
    )
}

/// The loaded pipelines with their endpoints and prompt versions, and the reload status.
#[utoipa::path(get, path = "/v1/pipelines", responses((status = 200, body = PipelineList)))]
pub async fn list(State(state): State<Arc<AppState>>, principal: Option<Extension<Principal>>) -> Json<PipelineList> {
    let engine = &state.engine;
    let snapshot = engine.snapshot();
    let granted = |p: &&Arc<Pipeline>| may_see(principal.as_ref(), &p.spec.name);
    Json(PipelineList {
        pipelines: snapshot
            .pipelines
            .values()
            .filter(granted)
            .map(|p| info(engine, p))
            .collect(),
        reload: (&engine.reload_status()).into(),
    })
}

/// One pipeline.
#[utoipa::path(
    get,
    path = "/v1/pipelines/{name}",
    params(("name" = String, Path, description = "Pipeline name")),
    responses((status = 200, body = PipelineInfo), (status = 404, body = super::error::ErrorBody))
)]
pub async fn show(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<PipelineInfo>, ApiError> {
    Ok(Json(info(&state.engine, &*state.pipeline(&name)?)))
}
