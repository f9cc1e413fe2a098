//! Hot segments: once a segment has been read whole, it is answered from
//! memory (whole and in ranges) with exactly the bytes at rest, still behind
//! the session check; with `--segment-cache-mib 0` nothing is held and the
//! same answers stream from storage.

mod common;

use common::{Api, TestApp};

/// `sealcast_cache_bytes{cache="hot_segments"}` on the node's `/metrics`.
async fn hot_bytes(api: &Api) -> f64 {
    let text = api.anonymous_get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("sealcast_cache_bytes{cache=\"hot_segments\"} "))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

async fn get(api: &Api, url: &str, range: Option<&str>) -> (u16, Vec<u8>) {
    let mut req = api.http.get(api.url(url));
    if let Some(range) = range {
        req = req.header("range", range);
    }
    let resp = api.send(req).await;
    let status = resp.status().as_u16();
    (status, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn segments_come_from_memory_with_the_stored_bytes_unless_the_budget_is_zero() {
    for budget in [128u64, 0] {
        let app = TestApp::init()
            .fast_transcodes()
            .flag("--segment-cache-mib", budget)
            .app()
            .await;
        let api = &app.api;
        let (creator, course) = app.creator_with_course().await;
        let video = app.ready_video(&creator, &course).await.id;
        let learner = app.learner_in(&course).await;
        let session = app.playback(&learner, &video).await;
        let segment = common::hls::segments(api, &session.master_url).await[0]
            .segment_uri
            .clone();
        // `/hls/{sid}/{token}/{rung}/{file}` is `videos/{id}/hls/{rung}/{file}` at rest.
        let rest: Vec<&str> = segment.rsplitn(3, '/').collect();
        let stored = app
            .at_rest()
            .await
            .object(&format!("videos/{video}/hls/{}/{}", rest[1], rest[0]))
            .await;
        assert!(stored.len() > 200, "a real segment: {} bytes", stored.len());

        assert_eq!(hot_bytes(api).await, 0.0, "nothing held before a read");
        let (status, whole) = get(api, &segment, None).await;
        assert_eq!((status, whole.len()), (200, stored.len()));
        assert!(whole == stored, "the whole segment is the stored one");
        let held = hot_bytes(api).await;
        if budget == 0 {
            assert_eq!(held, 0.0, "a zero budget holds nothing");
        } else {
            assert!(held >= stored.len() as f64, "held {held} bytes");
        }
        // Whole again, a range, a suffix, past the end: the same answers either way.
        assert_eq!(get(api, &segment, None).await, (200, stored.clone()));
        assert_eq!(
            get(api, &segment, Some("bytes=100-199")).await,
            (206, stored[100..200].to_vec())
        );
        assert_eq!(
            get(api, &segment, Some("bytes=-16")).await,
            (206, stored[stored.len() - 16..].to_vec())
        );
        let past = format!("bytes={}-", stored.len());
        assert_eq!(get(api, &segment, Some(&past)).await.0, 416);

        // Held bytes are still behind the session: once it ends, 403.
        let resp = api
            .delete(
                &format!("/api/v1/playback/{}", session.session_id),
                &learner.token,
            )
            .await;
        assert_eq!(resp.status(), 204);
        common::eventually(
            std::time::Duration::from_secs(10),
            "the ended session's segment refused",
            || async { (get(api, &segment, None).await.0 == 403).then_some(()) },
        )
        .await;
    }
}
