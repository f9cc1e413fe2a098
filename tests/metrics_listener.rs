//! `--metrics-listen`: `/metrics` on its own (private) address and nowhere else.

mod common;

use common::TestServer;

#[tokio::test]
async fn metrics_are_served_only_on_their_own_listener() {
    let server = TestServer::builder()
        .env("SEALCAST_METRICS_LISTEN", "127.0.0.1:0")
        .start();
    let http = reqwest::Client::new();
    let public = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(public.status(), 404, "metrics on the public listener");
    let line = server
        .stdout_lines()
        .into_iter()
        .find_map(|l| l.strip_prefix("sealcast metrics on ").map(String::from))
        .expect("the metrics address is printed");
    // Traffic on the public listener shows up on the private one.
    assert_eq!(
        http.get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let metrics = http.get(format!("{line}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("route=\"/healthz\""), "{text}");
    // And the private listener serves nothing else.
    let other = http.get(format!("{line}/healthz")).send().await.unwrap();
    assert_eq!(other.status(), 404);
}
