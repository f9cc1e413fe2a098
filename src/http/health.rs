//! Liveness (`/healthz`: the process answers) and readiness (`/readyz`: the
//! database and object storage answer too). A load balancer sends traffic only
//! to ready nodes; an orchestrator restarts only dead ones.

use std::time::Duration;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::error::{ApiError, ErrorCode};

pub async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

pub async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let db = tokio::time::timeout(Duration::from_secs(2), app.db.ping()).await;
    let storage = tokio::time::timeout(Duration::from_secs(5), app.storage.check()).await;
    let mut problems = Vec::new();
    match db {
        Ok(Ok(())) => {}
        Ok(Err(err)) => problems.push(format!("database: {err}")),
        Err(_) => problems.push("database: no answer within 2 s".to_string()),
    }
    match storage {
        Ok(Ok(())) => {}
        Ok(Err(err)) => problems.push(format!("storage: {err}")),
        Err(_) => problems.push("storage: no answer within 5 s".to_string()),
    }
    if problems.is_empty() {
        Ok(Json(json!({ "status": "ready" })))
    } else {
        let message = format!("not ready: {}", problems.join("; "));
        tracing::warn!(%message, "readiness check failed");
        Err(ApiError::new(ErrorCode::Unavailable, message))
    }
}
