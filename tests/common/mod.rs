//! The one test kit for the whole-system tests.
//!
//! - [`TestServer::builder()`] starts the real `sealcast` binary on port 0
//!   (database, storage, roles, any flag); [`TestApp`] wraps it with an
//!   admin made by the CLI and builds scenarios through the API: users,
//!   courses, enrollments, uploaded ready videos, playback sessions.
//! - [`TestApp::in_process`] is the same API on `build_app` + `router`
//!   through `oneshot`, for tests with no process boundary under test.
//! - [`eventually`] waits for observable state with a deadline; nothing
//!   sleeps to synchronise.
//! - [`hls`] reads playlists with `m3u8-rs`; [`at_rest`] reads storage at
//!   rest for the tests whose subject it is; [`Garage`] and [`Postgres`] are
//!   the real backends; [`procfs`] reads what `/proc` says of a process.
#![allow(dead_code, unused_imports)]

pub mod api;
pub mod app;
pub mod at_rest;
pub mod garage;
pub mod hls;
pub mod in_process;
pub mod media;
pub mod postgres;
pub mod procfs;
pub mod server;
pub mod webhooks;

use std::future::Future;
use std::time::{Duration, Instant};

pub use api::{assert_error, error_code, Api, Login, Playback, Response, PASSWORD};
pub use app::{Cast, ReadyVideo, TestApp};
pub use at_rest::AtRest;
pub use garage::Garage;
pub use postgres::Postgres;
pub use server::{sealcast_command, DataDir, ServerBuilder, TestServer};

/// Polls `probe` until it yields a value, failing after `within` with what
/// was awaited. The pause between polls only paces them; the outcome is
/// always read from observable state.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
