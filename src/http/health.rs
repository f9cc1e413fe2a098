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

/// 503 names only the parts that failed (`database`, `storage`); what went
/// wrong (paths, hosts, driver errors) goes to the log, never to the caller:
/// `/readyz` answers anyone.
pub async fn readyz(State(app): State<AppState>) -> Result<Json<Value>, ApiError> {
    let db = tokio::time::timeout(Duration::from_secs(2), app.db.ping()).await;
    let storage = tokio::time::timeout(Duration::from_secs(5), app.storage.check()).await;
    let mut failed = Vec::new();
    let mut note = |part: &'static str, outcome: Result<Result<(), String>, ()>| match outcome {
        Ok(Ok(())) => {}
        Ok(Err(cause)) => {
            tracing::warn!(part, %cause, "readiness check failed");
            failed.push(part);
        }
        Err(()) => {
            tracing::warn!(part, "readiness check got no answer in time");
            failed.push(part);
        }
    };
    note(
        "database",
        db.map(|r| r.map_err(|e| e.to_string())).map_err(|_| ()),
    );
    note(
        "storage",
        storage
            .map(|r| r.map_err(|e| e.to_string()))
            .map_err(|_| ()),
    );
    if failed.is_empty() {
        Ok(Json(json!({ "status": "ready" })))
    } else {
        Err(ApiError::new(
            ErrorCode::Unavailable,
            format!("not ready: {}", failed.join(", ")),
        ))
    }
}
