//! Key harvesting: a burst for every key of a 20 s video (1 s keys), over one
//! session and then a fresh one, is refused beyond the allowance of media
//! time (1 s in this suite's server, growing at twice real time), each
//! refusal a `429 key_pacing` with a `Retry-After` a player can honour.
//! Fewer than all keys are granted unless the bursts took over 9.5 s.

use serde_json::Value;

use super::cases::World;

/// Every key of `keys`, in order; `Err` for an answer that is neither a
/// grant nor a proper refusal. Returns how many were granted.
async fn burst(w: &World, keys: &[String]) -> Result<usize, String> {
    let mut granted = 0;
    for key in keys {
        let resp = w.app.api.key(key, Some(&w.cast.learner.token)).await;
        match resp.status().as_u16() {
            200 => granted += 1,
            429 => {
                if !resp.headers().contains_key("retry-after") {
                    return Err(format!("{key}: 429 without Retry-After"));
                }
                let body: Value = resp.json().await.unwrap_or(Value::Null);
                if body["error"]["code"] != "key_pacing" || body["error"]["request_id"].is_null() {
                    return Err(format!("{key}: 429 but {body}"));
                }
            }
            other => return Err(format!("{key}: {other}")),
        }
    }
    Ok(granted)
}

fn key_ids(keys: Vec<super::common::hls::SegmentKey>) -> Vec<String> {
    let mut ids: Vec<String> = keys.into_iter().map(|k| k.key_uri).collect();
    ids.dedup();
    ids
}

/// Two cases: the burst over one session, and over a fresh one.
pub async fn check(w: &World) -> Result<usize, String> {
    let ids = key_ids(w.app.segments(&w.session).await);
    if ids.len() < 15 {
        return Err(format!("a 20 s video at 1 s keys has {} keys", ids.len()));
    }
    let first = burst(w, &ids).await?;
    if first == 0 || first >= ids.len() {
        return Err(format!("the burst got {first} of {} keys", ids.len()));
    }
    // A fresh session of the same learner brings no fresh allowance; the
    // keys already granted stay free.
    let fresh = w.app.playback(&w.cast.learner, &w.video.id).await;
    let again = key_ids(w.app.segments(&fresh).await);
    let second = burst(w, &again).await?;
    if second >= again.len() {
        return Err(format!("the fresh session got all {second} keys"));
    }
    if second < first {
        return Err(format!(
            "keys granted before were refused: {second} < {first}"
        ));
    }
    Ok(2)
}
