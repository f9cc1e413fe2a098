//! Admin routes for webhooks: register (the secret is in this answer only),
//! list, read, delete, see deliveries and retry one. The rules live in
//! [`crate::webhooks`]; these check the caller and translate JSON.

use axum::extract::rejection::QueryRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::auth::{AuthUser, BearerScheme};
use super::idempotency::SealAnswer;
use super::identity::ApiJson;
use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::identity::Role;
use crate::webhooks::{endpoints, outbox, Delivery, Endpoint, NewEndpoint, WebhookError};

const BODY_LIMIT: usize = 16 * 1024;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/webhooks", post(create).get(list))
        .route("/api/v1/admin/webhooks/{id}", get(get_one).delete(remove))
        .route("/api/v1/admin/webhooks/{id}/deliveries", get(deliveries))
        .route(
            "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
            post(retry),
        )
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateWebhook {
    /// Absolute `https` URL resolving to public addresses.
    pub url: String,
    /// Any of `video.ready`, `video.failed`, `upload.completed`,
    /// `access.revoked`, `progress.completed`.
    pub events: Vec<String>,
}

/// The new endpoint with its signing secret: shown here and never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    pub id: String,
    /// `whsec_…`, for the receiver's Standard Webhooks library.
    pub secret: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Endpoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    /// Deliveries per answer, newest first (1..=500, default 100).
    pub limit: Option<i64>,
}

/// Register an endpoint.
#[utoipa::path(post, path = "/api/v1/admin/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhook,
    responses((status = 201, body = CreatedWebhook),
        (status = 400, description = "`webhook_url_refused`, `bad_request`"),
        (status = 403, description = "`forbidden`")))]
pub async fn create(
    State(app): State<AppState>,
    caller: AuthUser,
    ApiJson(body): ApiJson<CreateWebhook>,
) -> Result<(StatusCode, Extension<SealAnswer>, Json<CreatedWebhook>), ApiError> {
    caller.require(&[Role::Admin])?;
    let new = NewEndpoint {
        url: &body.url,
        events: &body.events,
        created_by: &caller.id,
    };
    let (endpoint, secret) = endpoints::create(
        &app.db,
        app.keyring.seal(),
        app.config.webhooks.allow_private,
        &new,
    )
    .await?;
    // An Idempotency-Key replay shows the secret again; kept sealed till then.
    Ok((
        StatusCode::CREATED,
        Extension(SealAnswer),
        Json(CreatedWebhook {
            id: endpoint.id,
            secret: secret.to_string(),
            url: endpoint.url,
            events: endpoint.events,
            created_at: endpoint.created_at,
        }),
    ))
}

/// Every endpoint (without secrets).
#[utoipa::path(get, path = "/api/v1/admin/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = WebhookList), (status = 403, description = "`forbidden`")))]
pub async fn list(
    State(app): State<AppState>,
    caller: AuthUser,
) -> Result<Json<WebhookList>, ApiError> {
    caller.require(&[Role::Admin])?;
    Ok(Json(WebhookList {
        webhooks: endpoints::list(&app.db).await?,
    }))
}

/// One endpoint (without its secret).
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Endpoint), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn get_one(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Endpoint>, ApiError> {
    caller.require(&[Role::Admin])?;
    endpoints::find(&app.db, &id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("webhook"))
}

/// Delete an endpoint and its deliveries.
#[utoipa::path(delete, path = "/api/v1/admin/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    responses((status = 204), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn remove(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(&[Role::Admin])?;
    endpoints::delete(&app.db, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An endpoint's deliveries, newest first, dead letters included.
#[utoipa::path(get, path = "/api/v1/admin/webhooks/{id}/deliveries", tag = "webhooks",
    security(("bearer" = [])), params(DeliveriesQuery),
    responses((status = 200, body = DeliveryList), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn deliveries(
    State(app): State<AppState>,
    caller: AuthUser,
    Path(id): Path<String>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<DeliveryList>, ApiError> {
    caller.require(&[Role::Admin])?;
    let Query(q) = query.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request("limit must be within 1..=500"));
    }
    if endpoints::find(&app.db, &id).await?.is_none() {
        return Err(ApiError::not_found("webhook"));
    }
    Ok(Json(DeliveryList {
        deliveries: outbox::list(&app.db, &id, limit).await?,
    }))
}

/// Attempt a delivery again now, with a fresh retry window.
#[utoipa::path(post, path = "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
    tag = "webhooks", security(("bearer" = [])),
    responses((status = 202, body = Delivery), (status = 403, description = "`forbidden`"),
        (status = 404, description = "`not_found`")))]
pub async fn retry(
    State(app): State<AppState>,
    caller: AuthUser,
    Path((id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Delivery>), ApiError> {
    caller.require(&[Role::Admin])?;
    let delivery = outbox::retry(&app.db, &id, &delivery_id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

impl From<WebhookError> for ApiError {
    fn from(err: WebhookError) -> Self {
        match err {
            WebhookError::Db(e) => ApiError::from(e),
            WebhookError::UrlRefused(why) => ApiError::new(
                ErrorCode::WebhookUrlRefused,
                format!("webhook URL refused: {why}"),
            ),
            WebhookError::InvalidEvents(why) => ApiError::bad_request(why),
            WebhookError::NotFound(what) => ApiError::not_found(what),
            WebhookError::Sealed => ApiError::internal("a webhook secret cannot be opened"),
        }
    }
}

/// The OpenAPI description of these routes.
#[derive(OpenApi)]
#[openapi(
    paths(create, list, get_one, remove, deliveries, retry),
    modifiers(&BearerScheme),
    tags((name = "webhooks", description = "Signed webhooks (admin)"))
)]
pub struct WebhooksApi;

pub fn openapi() -> utoipa::openapi::OpenApi {
    WebhooksApi::openapi()
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_lists_every_webhook_route() {
        let doc = serde_json::to_value(crate::http::openapi::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for p in [
            "/api/v1/admin/webhooks",
            "/api/v1/admin/webhooks/{id}",
            "/api/v1/admin/webhooks/{id}/deliveries",
            "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/retry",
        ] {
            assert!(paths.contains_key(p), "{p} missing from OpenAPI");
        }
        assert!(doc["components"]["schemas"]["Delivery"].is_object());
    }
}
