//! `GET /openapi.json`: the OpenAPI 3 description of every route.

use axum::Json;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "ragline", description = "Declarative RAG pipelines over HTTP"),
    paths(
        super::pipelines::healthz,
        super::pipelines::readyz,
        super::pipelines::list,
        super::pipelines::show,
        super::query::query,
        super::documents::upload,
        super::documents::list,
        super::documents::remove,
        super::cache::clear,
        super::sync::run,
        super::openai::chat_completions,
        super::openai::list_models,
        super::openai::get_model,
        super::observe::render,
        super::analytics::feedback,
        super::analytics::report,
        super::analytics::drift,
    ),
    modifiers(&Keys, &Refusals)
)]
struct ApiDoc;

/// The refusals every route can answer before its handler runs, listed on each
/// operation that can give them: the key check and rate limits (401, 403, 429) on all
/// but the open routes, and the body checks (400, 413, 415, 422) on those with a body.
struct Refusals;

/// Routes that need no key and are never limited (see `http/mod.rs`).
const OPEN: [&str; 4] = ["/healthz", "/readyz", "/metrics", "/openapi.json"];

impl Modify for Refusals {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let keyed = [
            (
                "401",
                "No API key, or an unknown, revoked or expired one (`WWW-Authenticate: Bearer`)",
            ),
            (
                "403",
                "The key's role lacks the route's scope, the pipeline or the domain",
            ),
            (
                "429",
                "A rate limit (`rate_limited`) or a budget (`budget_exceeded`); see `Retry-After`",
            ),
        ];
        let bodied = [
            ("400", "Malformed request"),
            ("413", "Body over `limits.max_body_bytes`"),
            ("415", "Wrong content type"),
            ("422", "The body does not match the request shape"),
        ];
        for (path, item) in &mut openapi.paths.paths {
            let open = OPEN.contains(&path.as_str());
            for op in [&mut item.get, &mut item.post, &mut item.delete].into_iter().flatten() {
                let has_body = op.request_body.is_some();
                let wanted = keyed.iter().filter(|_| !open).chain(bodied.iter().filter(|_| has_body));
                for (status, description) in wanted {
                    op.responses
                        .responses
                        .entry((*status).to_owned())
                        .or_insert_with(|| error_response(description));
                }
            }
        }
    }
}

fn error_response(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::Response> {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let content = ContentBuilder::new()
        .schema(Some(Ref::from_schema_name("ErrorBody")))
        .build();
    ResponseBuilder::new()
        .description(description)
        .content("application/json", content)
        .build()
        .into()
}

/// The API keys of `access.yaml` (see `http/auth.rs`): a bearer token or `x-api-key`,
/// or neither when the server runs open.
struct Keys;

impl Modify for Keys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("x-api-key"))),
        );
        openapi.security = Some(vec![
            SecurityRequirement::default(),
            SecurityRequirement::new("bearer", Vec::<String>::new()),
            SecurityRequirement::new("api_key", Vec::<String>::new()),
        ]);
    }
}

/// The OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys are described: a bearer token or `x-api-key`, or none on an open server.
    #[test]
    fn api_keys_are_described() {
        let doc = serde_json::to_value(spec()).unwrap();
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
        assert_eq!(schemes["api_key"]["name"], "x-api-key", "{schemes}");
        assert_eq!(doc["security"].as_array().unwrap().len(), 3, "{}", doc["security"]);
    }

    /// Every `$ref` names a schema the document defines, so clients can generate from it.
    #[test]
    fn every_reference_resolves() {
        let doc = serde_json::to_value(spec()).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        let mut refs = Vec::new();
        collect_refs(&doc, &mut refs);
        assert!(refs.len() > 20, "{refs:?}");
        for r in &refs {
            let name = r.strip_prefix("#/components/schemas/").unwrap();
            assert!(schemas.contains_key(name), "{r} is not defined");
        }
        for name in [
            "QueryRequest",
            "QueryResponse",
            "Source",
            "UploadResponse",
            "SyncReport",
            "PipelineList",
            "AnalyticsReport",
            "DriftList",
            "FeedbackRequest",
        ] {
            assert!(schemas.contains_key(name), "{name} is missing");
        }
    }

    /// Every keyed route lists the key, scope and rate refusals; the open ones do not.
    #[test]
    fn refusals_are_listed_where_they_can_happen() {
        let doc = serde_json::to_value(spec()).unwrap();
        let query = &doc["paths"]["/v1/pipelines/{name}/query"]["post"]["responses"];
        for status in ["401", "403", "429", "413", "415", "422"] {
            assert!(query.get(status).is_some(), "query lacks {status}: {query}");
        }
        let healthz = &doc["paths"]["/healthz"]["get"]["responses"];
        assert!(
            healthz.get("401").is_none() && healthz.get("429").is_none(),
            "{healthz}"
        );
        let list = &doc["paths"]["/v1/pipelines"]["get"]["responses"];
        assert!(list.get("401").is_some() && list.get("415").is_none(), "{list}");
    }

    fn collect_refs(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|v| collect_refs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }
}
