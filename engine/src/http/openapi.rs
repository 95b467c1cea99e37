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
        super::sync::run,
        super::openai::chat_completions,
        super::openai::list_models,
        super::openai::get_model,
        super::observe::render,
        super::analytics::feedback,
        super::analytics::report,
        super::analytics::drift,
    ),
    modifiers(&Keys)
)]
struct ApiDoc;

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
