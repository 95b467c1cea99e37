//! `GET /openapi.json`: the OpenAPI 3 description of every route.

use axum::Json;
use utoipa::OpenApi;

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
    )
)]
struct ApiDoc;

/// The OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(spec())
}
