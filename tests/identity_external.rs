//! A course platform's tokens against the real server: its users live in their
//! own namespace (issuer + subject), never in the local id space, and its role
//! claim cannot mint admins; only `--external-admin-subjects` can.

mod common;

use common::{assert_error, Api, Postgres, ServerBuilder, TestApp};
use serde_json::{json, Value};

const EXT_ISS: &str = "https://lms.example.test";
const EXT_AUD: &str = "sealcast-from-lms";

fn testdata(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keyserver/src/testdata")
        .join(name)
}

/// An RS256 token as the course platform would mint it.
fn lms_token(sub: &str, role: &str) -> String {
    let now = sealcast::db::now_ms() / 1000;
    let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    let claims = json!({"sub": sub, "role": role, "iss": EXT_ISS, "aud": EXT_AUD,
        "exp": now + 300, "nbf": now});
    let pem = std::fs::read(testdata("ext_rsa_private.pem")).unwrap();
    jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_rsa_pem(&pem).unwrap(),
    )
    .unwrap()
}

async fn platform_app(extra: &[(&str, &str)]) -> TestApp {
    platform_app_on(TestApp::init(), extra).await
}

async fn platform_app_on(builder: ServerBuilder, extra: &[(&str, &str)]) -> TestApp {
    let mut builder = builder
        .flag("--external-issuer", EXT_ISS)
        .flag("--external-audience", EXT_AUD)
        .flag(
            "--external-key-file",
            testdata("ext_rsa_public.pem").display(),
        );
    for (name, value) in extra {
        builder = builder.flag(name, value);
    }
    builder.app().await
}

async fn me(api: &Api, token: &str) -> Value {
    let resp = api.get("/api/v1/me", token).await;
    assert_eq!(resp.status(), 200);
    resp.json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_subject_never_names_a_local_user_nor_mints_an_admin() {
    let app = platform_app(&[]).await;
    let api = &app.api;
    let admin_id = app.admin.user_id.clone();

    // The platform's subject equals the local admin's id, and it even claims admin.
    for role in ["learner", "admin"] {
        let token = lms_token(&admin_id, role);
        let who = me(api, &token).await;
        assert_ne!(who["id"], admin_id.as_str(), "acts as the local admin");
        assert_ne!(who["role"], "admin");
        assert_error(api.get("/api/v1/users", &token).await, 403, "forbidden").await;
    }
    // The local admin is untouched and still an admin.
    let local = me(api, &app.admin.token).await;
    assert_eq!(
        (local["id"].as_str(), local["role"].as_str()),
        (Some(admin_id.as_str()), Some("admin"))
    );

    // A role claim of admin yields a creator, not an admin.
    let token = lms_token("lms-staff-7", "admin");
    assert_eq!(me(api, &token).await["role"], "creator");
    assert_error(api.get("/api/v1/users", &token).await, 403, "forbidden").await;
    let resp = api
        .post(
            "/api/v1/courses",
            &token,
            json!({"title": "From the platform"}),
        )
        .await;
    assert_eq!(resp.status(), 201);
    // The same subject on its next request is the same user.
    assert_eq!(
        me(api, &token).await["id"],
        me(api, &lms_token("lms-staff-7", "admin")).await["id"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapped_external_subject_is_an_admin() {
    let app = platform_app(&[("--external-admin-subjects", "lms-boss")]).await;
    let api = &app.api;
    let token = lms_token("lms-boss", "learner");
    assert_eq!(me(api, &token).await["role"], "admin");
    assert_eq!(api.get("/api/v1/users", &token).await.status(), 200);
    // Anyone else claiming admin is still a creator.
    let other = lms_token("lms-other", "admin");
    assert_eq!(me(api, &other).await["role"], "creator");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_identities_are_provisioned_on_postgres_too() {
    let pg = tokio::task::spawn_blocking(Postgres::start).await.unwrap();
    let app = platform_app_on(TestApp::init().postgres(&pg), &[]).await;
    let token = lms_token(&app.admin.user_id, "admin");
    let first = me(&app.api, &token).await;
    assert_ne!(first["id"], app.admin.user_id.as_str());
    assert_eq!(first["role"], "creator");
    // Concurrent first requests of another subject agree on one account.
    let other = lms_token("lms-learner-9", "learner");
    let (a, b) = tokio::join!(me(&app.api, &other), me(&app.api, &other));
    assert_eq!(a["id"], b["id"]);
}
