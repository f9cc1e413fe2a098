//! `sealcast serve --demo`, the README's first ten minutes: accounts whose
//! passwords are printed once (and never logged), a course with the learner
//! enrolled, and a generated sample video that becomes playable.

mod common;

use std::time::Duration;

use serde_json::{json, Value};

use common::{eventually, sealcast_command, TestServer};

/// A demo server and the accounts it printed: (role, email, password).
struct Demo {
    server: TestServer,
    base_url: String,
    accounts: Vec<(String, String, String)>,
}

async fn start_demo(data_dir: Option<common::DataDir>) -> Demo {
    let mut builder = TestServer::builder()
        .arg("--demo")
        .env("SEALCAST_TRANSCODE_RUNGS", "360,240")
        .env("SEALCAST_X264_PRESET", "ultrafast");
    if let Some(dir) = data_dir {
        builder = builder.data_dir(dir);
    }
    let server = builder.start();
    let accounts = eventually(
        Duration::from_secs(30),
        "the demo prints 3 accounts",
        || {
            let lines = server.stdout_lines();
            async move {
                let accounts: Vec<(String, String, String)> = lines
                    .iter()
                    .filter_map(|line| {
                        let words: Vec<&str> = line.split_whitespace().collect();
                        match words[..] {
                            [role, email, "password:", password] => {
                                Some((role.into(), email.into(), password.into()))
                            }
                            _ => None,
                        }
                    })
                    .collect();
                (accounts.len() >= 3).then_some(accounts)
            }
        },
    )
    .await;
    Demo {
        base_url: server.base_url.clone(),
        server,
        accounts,
    }
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    http.post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap()
}

async fn get_json(http: &reqwest::Client, url: String, token: &str) -> Value {
    let resp = http.get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_accounts_course_and_a_playable_sample_video() {
    let demo = start_demo(None).await;
    let roles: Vec<&str> = demo.accounts.iter().map(|a| a.0.as_str()).collect();
    assert_eq!(roles, ["admin", "creator", "learner"]);
    let http = reqwest::Client::new();
    let (_, email, password) = &demo.accounts[2];

    let resp = login(&http, &demo.base_url, email, password).await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let courses = get_json(&http, format!("{}/api/v1/courses", demo.base_url), &token).await;
    let course = courses["courses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["title"] == "Welcome to sealcast")
        .expect("the learner is enrolled in the demo course")
        .clone();

    // The sample video goes through the real transcode queue.
    let videos_url = format!(
        "{}/api/v1/videos?course_id={}",
        demo.base_url,
        course["id"].as_str().unwrap()
    );
    let video = eventually(Duration::from_secs(240), "the sample is ready", || async {
        let list = get_json(&http, videos_url.clone(), &token).await;
        let video = list["videos"][0].clone();
        match video["status"].as_str() {
            Some("ready") => Some(video),
            Some("failed") => panic!("sample failed: {video}"),
            _ => None,
        }
    })
    .await;
    assert!(
        video["duration_seconds"].as_f64().unwrap() > 15.0,
        "{video}"
    );

    let resp = http
        .post(format!(
            "{}/api/v1/videos/{}/playback",
            demo.base_url,
            video["id"].as_str().unwrap()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let session: Value = resp.json().await.unwrap();
    let master = http
        .get(format!(
            "{}{}",
            demo.base_url,
            session["master_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(master.status(), 200);
    assert!(master.text().await.unwrap().contains("#EXT-X-STREAM-INF"));

    // Passwords go to the terminal only, never to the log.
    let log = demo.server.log();
    for (_, _, password) in &demo.accounts {
        assert!(
            !log.contains(password.as_str()),
            "a password reached the log"
        );
    }

    // A second start sets fresh passwords; the old ones stop working and the
    // sample is not generated twice.
    let old = demo.accounts.clone();
    let again = start_demo(Some(demo.server.crash())).await;
    assert_ne!(again.accounts[2].2, old[2].2);
    let resp = login(&http, &again.base_url, &old[2].1, &old[2].2).await;
    assert_eq!(resp.status(), 401);
    let resp = login(
        &http,
        &again.base_url,
        &again.accounts[2].1,
        &again.accounts[2].2,
    )
    .await;
    assert_eq!(resp.status(), 200);
    let token = resp.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let list = get_json(
        &http,
        format!(
            "{}/api/v1/videos?course_id={}",
            again.base_url,
            course["id"].as_str().unwrap()
        ),
        &token,
    )
    .await;
    assert_eq!(list["videos"].as_array().unwrap().len(), 1);
}

#[test]
fn demo_refuses_a_listener_others_can_reach() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sealcast_command()
        .args(["serve", "--demo", "--listen", "0.0.0.0:0", "--data-dir"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid setting `demo`"), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "nothing printed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}
