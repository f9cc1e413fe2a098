//! Access taken away bites at the next request: a revoked session's next
//! key, an unenrolled learner's next playback, a disabled user's next call.

use reqwest::Method;
use serde_json::json;

use super::cases::{case, Case, World};

pub async fn cases(w: &World) -> Vec<Case> {
    let api = &w.app.api;
    let c = &w.cast;
    let admin = &c.admin.token;
    let keys = w.app.segments(&w.session).await;
    let key = keys[0].key_uri.clone();
    assert_eq!(
        api.key(&key, Some(&c.learner.token)).await.status(),
        200,
        "the key works before"
    );
    api.revoke(admin, json!({"session_id": w.session.session_id}))
        .await;

    // A second learner, unenrolled after starting a session.
    let other = w.app.learner_in(&c.course).await;
    let session = w.app.playback(&other, &w.video.id).await;
    let other_key = w.app.segments(&session).await[0].key_uri.clone();
    assert_eq!(
        api.unenroll(&c.creator.token, &c.course, &other.user_id)
            .await
            .status(),
        204
    );

    // A third, disabled by an admin revocation of the user.
    let third = w.app.learner_in(&c.course).await;
    let third_session = w.app.playback(&third, &w.video.id).await;
    let third_key = w.app.segments(&third_session).await[0].key_uri.clone();
    api.revoke(admin, json!({"user_id": third.user_id})).await;

    // Playlists and segments check the session through a cache of at most
    // one second (keys never): wait for the revocation to reach it.
    super::common::eventually(
        std::time::Duration::from_secs(10),
        "the playlist refused",
        || async { (api.anonymous_get(&w.session.master_url).await.status() == 403).then_some(()) },
    )
    .await;
    let start = |token: &str| {
        w.request(
            Method::POST,
            &format!("/api/v1/videos/{}/playback", w.video.id),
        )
        .bearer_auth(token)
        .json(&json!({}))
    };
    vec![
        case(
            "the revoked session's next key",
            w.get_as(&key, &c.learner.token),
            403,
            "session_revoked",
        ),
        case(
            "the revoked session's playlist",
            w.get(&w.session.master_url),
            403,
            "session_ended",
        ),
        case(
            "an unenrolled learner's next key",
            w.get_as(&other_key, &other.token),
            403,
            "session_revoked",
        ),
        case(
            "an unenrolled learner's next playback",
            start(&other.token),
            403,
            "not_entitled",
        ),
        case(
            "a revoked user's next key",
            w.get_as(&third_key, &third.token),
            403,
            "session_revoked",
        ),
        case(
            "a revoked user's next API call",
            w.get_as("/api/v1/me", &third.token),
            403,
            "user_disabled",
        ),
    ]
}
