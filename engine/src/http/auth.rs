//! API keys at the door. With an `access.yaml`, every route but the probes, `/metrics`
//! and `/openapi.json` needs a key (`Authorization: Bearer <key>` or `x-api-key`, which
//! is also what OpenAI clients send as their `api_key`) whose role has the route's scope
//! and the pipeline it names. The check runs before the body is read, so a refused
//! request never reaches a model or the store. Without `access.yaml` the server is open.

use std::sync::Arc;

use axum::Extension;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, AppState};
use crate::config::access::{Role, Scope};
use crate::pipeline::spend::{Account, Exceeded};
use crate::pipeline::{Query, now_ms};
use crate::store::keys::Refusal;
use crate::telemetry::record;

/// Who is asking: the key's id and role, in the request's extensions.
#[derive(Debug, Clone)]
pub struct Principal {
    pub key_id: String,
    pub role: Role,
}

/// Whether a request by `principal` (`None`: the server is open) may see `pipeline`.
pub fn may_see(principal: Option<&Extension<Principal>>, pipeline: &str) -> bool {
    principal.is_none_or(|Extension(p)| p.role.pipelines.allows(pipeline))
}

impl Principal {
    /// Bound `query` by the key: its domains narrow retrieval, its role is the one
    /// route rules see (not the one the body claims), and the answer counts against its
    /// budgets.
    pub fn bound(&self, query: &mut Query) {
        query.granted_domains = self.role.domains.names();
        query.role = Some(self.role.name.clone());
        query.account = Some(Account {
            key_id: self.key_id.clone(),
            role: self.role.name.clone(),
        });
    }

    /// 403 unless the role may use `pipeline`.
    pub fn check_pipeline(&self, pipeline: &str) -> Result<(), ApiError> {
        if self.role.pipelines.allows(pipeline) {
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "pipeline_forbidden",
                format!("role `{}` may not use pipeline `{pipeline}`", self.role.name),
            ))
        }
    }
}

/// Whether a route spends from a budget: the ones that answer questions.
fn spends(method: &Method, route: Option<&str>) -> bool {
    method == Method::POST && matches!(route, Some("/v1/pipelines/{name}/query" | "/v1/chat/completions"))
}

/// 429 `budget_exceeded` until the period ends, counted in the metrics.
fn budget_exceeded(key_id: &str, role: &Role, e: &Exceeded, now: u64) -> Response {
    record::budget_exceeded(&role.name, e.budget);
    let (whose, field) = match e.budget.split_once('_') {
        Some(("key", field)) => (format!("API key {key_id}"), format!("key_budget.{field}")),
        Some((_, field)) => (format!("role `{}`", role.name), format!("role_budget.{field}")),
        None => (format!("role `{}`", role.name), e.budget.to_owned()),
    };
    let resets = crate::vocab::time::rfc3339(e.resets_at_ms);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "budget_exceeded",
        format!(
            "{whose} spent {} ({field} of role `{}`); it resets at {resets}",
            e.amounts(),
            role.name
        ),
    )
    .into_response();
    let wait = e.resets_at_ms.saturating_sub(now).div_ceil(1000).max(1);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

/// What a route needs: nothing (open), a valid key, or a key with a scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Needs {
    Nothing,
    Key,
    Scope(Scope),
}

fn needs(method: &Method, route: Option<&str>) -> Needs {
    let Some(route) = route else {
        return Needs::Key;
    };
    let scope = match (method.as_str(), route) {
        (_, "/healthz" | "/readyz" | "/metrics" | "/openapi.json") => return Needs::Nothing,
        ("GET", "/v1/pipelines" | "/v1/pipelines/{name}" | "/v1/models" | "/v1/models/{model}") => Scope::Query,
        ("GET", "/v1/pipelines/{name}/documents") => Scope::Query,
        ("POST", "/v1/pipelines/{name}/query" | "/v1/pipelines/{name}/feedback" | "/v1/chat/completions") => {
            Scope::Query
        }
        ("POST", "/v1/pipelines/{name}/documents") => Scope::Upload,
        ("DELETE", "/v1/pipelines/{name}/documents/{id}") => Scope::Delete,
        ("DELETE", "/v1/pipelines/{name}/cache") => Scope::Admin,
        ("POST", "/v1/pipelines/{name}/sync") => Scope::Sync,
        ("GET", "/v1/analytics" | "/v1/analytics/drift") => Scope::Analytics,
        _ => Scope::Admin,
    };
    Needs::Scope(scope)
}

/// The key a request carries.
pub(super) fn presented(headers: &HeaderMap) -> Option<&str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    bearer
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
}

fn unauthorized(code: &'static str, message: String) -> Response {
    let mut response = ApiError::new(StatusCode::UNAUTHORIZED, code, message).into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// Let the request through, with its [`Principal`], or refuse it.
pub async fn check(State(state): State<Arc<AppState>>, mut request: Request, next: Next) -> Response {
    let Some(access) = state.engine.snapshot().access.clone() else {
        return next.run(request).await;
    };
    let route = request.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let needs = needs(request.method(), route.as_deref());
    if needs == Needs::Nothing {
        return next.run(request).await;
    }
    let Some(key) = presented(request.headers()).filter(|k| !k.is_empty()) else {
        return unauthorized(
            "unauthenticated",
            "this server needs an API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`".to_owned(),
        );
    };
    let unavailable = |e: &dyn std::fmt::Display| {
        tracing::error!(error = %e, "cannot check API keys");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "auth_unavailable",
            "the key store cannot be read",
        )
        .into_response()
    };
    let store = match state.engine.resources.keys() {
        Ok(store) => store,
        Err(e) => return unavailable(&e),
    };
    let now = now_ms();
    let record = match store.check(key, now) {
        Ok(Ok(record)) => record,
        Ok(Err(Refusal::Unknown)) => return unauthorized("invalid_key", "unknown API key".to_owned()),
        Ok(Err(Refusal::Revoked { id })) => return unauthorized("invalid_key", format!("API key {id} was revoked")),
        Ok(Err(Refusal::Expired { id, at_ms })) => {
            let at = crate::vocab::time::rfc3339(at_ms);
            return unauthorized("key_expired", format!("API key {id} expired at {at}"));
        }
        Err(e) => return unavailable(&e),
    };
    let Some(role) = access.roles.get(&record.role).cloned() else {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "API key {} has role `{}`, which access.yaml no longer declares",
                record.id, record.role
            ),
        )
        .into_response();
    };
    if let Needs::Scope(scope) = needs
        && !role.may(scope)
    {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("role `{}` lacks the `{}` scope", role.name, scope.name()),
        )
        .into_response();
    }
    if let Some(quota) = role.key_rate
        && let Some(refused) = state.key_rates.refusal(&role.name, quota, &record.id)
    {
        return refused;
    }
    if spends(request.method(), route.as_deref())
        && let Some(e) = state.engine.resources.spend.check(&record.id, &role, now)
    {
        return budget_exceeded(&record.id, &role, &e, now);
    }
    let principal = Principal {
        key_id: record.id,
        role,
    };
    if let Some(name) = super::observe::pipeline_in_path(request.uri().path())
        && let Err(e) = principal.check_pipeline(name)
    {
        return e.into_response();
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_needs_its_scope() {
        let post = Method::POST;
        assert_eq!(needs(&Method::GET, Some("/healthz")), Needs::Nothing);
        assert_eq!(needs(&Method::GET, Some("/metrics")), Needs::Nothing);
        assert_eq!(
            needs(&post, Some("/v1/pipelines/{name}/query")),
            Needs::Scope(Scope::Query)
        );
        assert_eq!(needs(&post, Some("/v1/chat/completions")), Needs::Scope(Scope::Query));
        assert_eq!(
            needs(&post, Some("/v1/pipelines/{name}/documents")),
            Needs::Scope(Scope::Upload)
        );
        assert_eq!(
            needs(&Method::DELETE, Some("/v1/pipelines/{name}/documents/{id}")),
            Needs::Scope(Scope::Delete)
        );
        assert_eq!(
            needs(&Method::DELETE, Some("/v1/pipelines/{name}/cache")),
            Needs::Scope(Scope::Admin)
        );
        assert_eq!(
            needs(&post, Some("/v1/pipelines/{name}/sync")),
            Needs::Scope(Scope::Sync)
        );
        assert_eq!(
            needs(&Method::GET, Some("/v1/analytics")),
            Needs::Scope(Scope::Analytics)
        );
        assert_eq!(needs(&Method::GET, None), Needs::Key);
    }
}
