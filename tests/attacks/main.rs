//! The attack suite: what an attacker with an account, a browser's dev tools
//! and curl tries, one file per family, each case asserting the exact status
//! and error code (and that the error envelope carries a `request_id` and no
//! internal path). `docs/SECURITY.md` maps each family to its defence.

#[path = "../common/mod.rs"]
mod common;

mod brute_force;
mod cases;
mod cors;
mod errors;
mod file_modes;
mod idor;
mod limits;
mod pacing;
mod raw_media;
mod revocation;
mod secrets;
mod signed_urls;
mod tokens;
mod traversal;

use cases::{Outcome, World};

/// Every family that needs only an ordinary server with a ready video, on
/// one server: building the world once keeps the suite quick.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_one_server() {
    let world = World::build(common::TestApp::init().fast_transcodes(), 3).await;
    let mut outcome = Outcome::default();
    outcome.family("tokens", tokens::cases(&world)).await;
    outcome.family("idor", idor::cases(&world).await).await;
    outcome
        .family("signed_urls", signed_urls::cases(&world).await)
        .await;
    outcome.family("traversal", traversal::cases(&world)).await;
    outcome.family("raw_media", raw_media::cases(&world)).await;
    outcome.family("cors", cors::cases(&world)).await;
    outcome.family("errors", errors::cases(&world).await).await;
    outcome.family("secrets", secrets::cases(&world)).await;
    outcome.check("file_modes", file_modes::check(&world));
    // Last: it takes the learner's access away.
    outcome
        .family("revocation", revocation::cases(&world).await)
        .await;
    outcome.finish(&world);
}

/// Families that need tight limits: login, session starts, key pacing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attacks_on_the_limits() {
    let builder = common::TestServer::builder()
        .fast_transcodes()
        .flag("--login-attempts-per-email", 3)
        .flag("--key-pacing-allowance-secs", 1)
        .flag("--playback-starts-per-minute", 2);
    let world = World::build(builder, 20).await;
    let mut outcome = Outcome::default();
    outcome
        .family("brute_force", brute_force::cases(&world).await)
        .await;
    outcome.check("pacing", pacing::check(&world).await);
    outcome.family("limits", limits::cases(&world).await).await;
    outcome.finish(&world);
}
