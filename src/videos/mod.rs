//! Videos: the `videos` table, where a video's objects live, who may do what
//! with one, and how one is removed.
//!
//! Every SQL statement that writes or reads a video row is in [`model`]; a
//! status is a [`VideoStatus`], never a string compared by hand; "who may
//! watch" is decided in one place ([`access::decide`]) for the API, playback
//! and the key store alike. No HTTP here.

pub mod access;
pub mod layout;
pub mod model;
pub mod removal;
mod status;

pub use access::{Access, Viewer};
pub use model::{Rendition, StatusChange, Video};
pub use removal::remove;
pub use status::VideoStatus;
