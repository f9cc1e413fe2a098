//! The background dispatcher: claims due deliveries, checks the endpoint's
//! address again (DNS may have changed since registration), POSTs the signed
//! body to exactly the addresses it checked, and records the attempt. Runs on
//! every node with a database; claims keep two nodes off the same row.

use std::sync::Arc;
use std::time::Duration;

use reqwest::redirect::Policy;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::outbox::{self, Attempt, Claimed};
use super::{endpoints, signing, ssrf, WebhookError, ATTEMPT_TIMEOUT};
use crate::app::App;
use crate::db::now_ms;

/// Attempts in flight at once on one node.
const IN_FLIGHT: usize = 8;
/// A claimed delivery is due again after this if its node dies mid-attempt.
const CLAIM_LEASE: Duration = Duration::from_secs(30);
/// Longest receiver error kept with a delivery.
const ERROR_MAX: usize = 200;

/// Starts the dispatcher; it stops when `stop` is cancelled.
pub fn spawn(app: Arc<App>, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let slots = Arc::new(Semaphore::new(IN_FLIGHT));
        loop {
            // Take every due delivery there are free slots for, then wait.
            while let Ok(permit) = slots.clone().try_acquire_owned() {
                match outbox::claim(&app.db, CLAIM_LEASE).await {
                    Ok(Some(claimed)) => {
                        let app = app.clone();
                        tokio::spawn(async move {
                            deliver(&app, claimed).await;
                            drop(permit);
                        });
                    }
                    Ok(None) => break,
                    Err(err) => {
                        tracing::warn!(error = %err, "webhook claim failed");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(app.config.webhooks.poll) => {}
            }
        }
    })
}

/// One attempt and its record.
async fn deliver(app: &App, claimed: Claimed) {
    let attempt = match send(app, &claimed).await {
        Ok(attempt) => attempt,
        Err(err) => Attempt {
            status_code: None,
            error: Some(err.to_string()),
        },
    };
    let settings = &app.config.webhooks;
    let next = attempt.error.as_ref().and_then(|_| {
        let next = now_ms()
            + outbox::backoff(settings.retry_base, claimed.attempts + 1).as_millis() as i64;
        (next <= claimed.retry_from + settings.retry_window.as_millis() as i64).then_some(next)
    });
    match &attempt.error {
        None => {
            tracing::info!(delivery = %claimed.id, endpoint = %claimed.endpoint_id, "webhook delivered")
        }
        Some(err) => tracing::info!(
            delivery = %claimed.id, endpoint = %claimed.endpoint_id, error = %err,
            gave_up = next.is_none(), "webhook attempt failed"
        ),
    }
    let outcome = match (&attempt.error, next) {
        (None, _) => "delivered",
        (Some(_), Some(_)) => "retry",
        (Some(_), None) => "failed",
    };
    metrics::counter!("sealcast_webhook_attempts_total", "outcome" => outcome).increment(1);
    if let Err(err) = outbox::record(&app.db, &claimed.id, &attempt, next).await {
        // The claim lease runs out and the delivery is attempted again.
        tracing::warn!(delivery = %claimed.id, error = %err, "webhook attempt not recorded");
    }
}

async fn send(app: &App, claimed: &Claimed) -> Result<Attempt, WebhookError> {
    let secret = endpoints::open_secret(
        app.keyring.seal(),
        &claimed.endpoint_id,
        &claimed.sealed_secret,
    )?;
    let target = ssrf::check(&claimed.url, app.config.webhooks.allow_private).await?;
    let mut client = reqwest::Client::builder()
        .redirect(Policy::none())
        .no_proxy()
        .timeout(ATTEMPT_TIMEOUT)
        .connect_timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!("sealcast-webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(domain) = &target.domain {
        // Connect to the addresses just checked, never to a fresh lookup.
        client = client.resolve_to_addrs(domain, &target.addrs);
    }
    let client = client
        .build()
        .map_err(|e| WebhookError::UrlRefused(format!("no HTTP client: {e}")))?;
    let timestamp = now_ms() / 1000;
    let signature = signing::sign(&secret, &claimed.id, timestamp, claimed.payload.as_bytes())
        .ok_or(WebhookError::Sealed)?;
    let result = client
        .post(target.url)
        .header("content-type", "application/json")
        .header("webhook-id", &claimed.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(claimed.payload.clone())
        .send()
        .await;
    Ok(match result {
        Ok(resp) if resp.status().is_success() => Attempt {
            status_code: Some(resp.status().as_u16()),
            error: None,
        },
        Ok(resp) => Attempt {
            status_code: Some(resp.status().as_u16()),
            error: Some(format!("the receiver answered {}", resp.status())),
        },
        Err(err) => Attempt {
            status_code: None,
            error: Some(describe(&err)),
        },
    })
}

/// A transport error in a few words, without internal detail.
fn describe(err: &reqwest::Error) -> String {
    let what = if err.is_timeout() {
        "timed out".to_string()
    } else if err.is_connect() {
        "could not connect".to_string()
    } else {
        err.to_string()
    };
    what.chars().take(ERROR_MAX).collect()
}
