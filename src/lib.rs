//! Sealcast: a secure video server for course platforms.
//!
//! This library is the edge and the glue: configuration, object storage,
//! the database, the HTTP application and the command line. Media work lives
//! in `sealcast-transcoder` and key custody in `sealcast-keyserver`; this crate
//! depends on them, never the other way round.
//!
//! What it must never do: serve or presign an original upload, log a secret,
//! or hold the custody master key in a process whose role is only `edge`.

pub mod app;
pub mod captions;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connections;
pub mod db;
pub mod demo;
pub mod error;
pub mod external_issuer;
pub mod http;
pub mod identity;
pub mod jobs;
pub mod keyring;
pub mod keystore;
pub mod memory;
pub mod playback;
pub mod progress;
pub mod secrets;
pub mod server;
pub mod storage;
pub mod storyboards;
pub mod telemetry;
pub mod uploads;
pub mod videos;
pub mod webhooks;

pub use app::{App, AppState};
pub use error::{ApiError, ErrorCode};
