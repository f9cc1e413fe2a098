//! Password guessing: after the per-account allowance, even the right
//! password is refused for a while, and the answer says when to come back.

use serde_json::json;

use super::cases::{case, Case, World};
use super::common::Response;

fn has_retry_after(r: &Response) -> Result<(), String> {
    r.headers()
        .contains_key("retry-after")
        .then_some(())
        .ok_or("no Retry-After".into())
}

pub async fn cases(w: &World) -> Vec<Case> {
    // A fresh account: no login of its own has been counted yet.
    let email = format!("{}@example.test", super::common::api::unique());
    let created = w
        .app
        .api
        .post(
            "/api/v1/users",
            &w.cast.admin.token,
            json!({"email": email, "password": super::common::PASSWORD, "role": "learner"}),
        )
        .await;
    assert_eq!(created.status(), 201);
    let login = |password: &str| {
        w.request(reqwest::Method::POST, "/api/v1/auth/login")
            .json(&json!({"email": email, "password": password}))
    };
    // The server allows 3 attempts per account (see the suite's flags).
    let mut cases: Vec<Case> = (1..=3)
        .map(|i| {
            case(
                format!("wrong password {i}"),
                login("wrong password guess"),
                401,
                "invalid_credentials",
            )
        })
        .collect();
    cases.push(
        case(
            "a fourth guess",
            login("wrong password guess"),
            429,
            "rate_limited",
        )
        .and(has_retry_after),
    );
    cases.push(
        case(
            "the right password, too soon",
            login(super::common::PASSWORD),
            429,
            "rate_limited",
        )
        .and(has_retry_after),
    );
    cases.push(case(
        "an unknown account answers like a known one",
        w.request(reqwest::Method::POST, "/api/v1/auth/login")
            .json(&json!({"email": "nobody@example.test", "password": "x"})),
        401,
        "invalid_credentials",
    ));
    cases
}
