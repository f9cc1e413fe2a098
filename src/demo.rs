//! `sealcast serve --demo`: a newcomer's first ten minutes.
//!
//! Creates three demo accounts (admin, creator, learner) with fresh random
//! passwords printed once to the terminal (never logged, never stored in
//! plain text), a course owned by the creator with the learner enrolled, and
//! a generated sample video that goes through the real transcode queue. Only
//! allowed on a loopback listener: printed passwords must not open a server
//! that others can reach.

use std::sync::Arc;

use futures::StreamExt;

use crate::app::App;
use crate::db::{new_id, Db};
use crate::identity::{courses, passwords, refresh, users, IdentityError, Role};
use crate::storage::ObjectKey;
use crate::videos::layout;
use crate::videos::model::{self, NewVideo};

/// Title of the demo course; its presence marks a data dir already seeded.
pub const DEMO_COURSE_TITLE: &str = "Welcome to sealcast";

/// Why the demo could not be prepared.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("storage: {0}")]
    Storage(#[from] crate::storage::StorageError),
    #[error("sample video: {0}")]
    Sample(String),
    #[error("{0}")]
    Identity(#[from] IdentityError),
}

/// Generates the sample video, stores it as a finished upload of `course_id`
/// and queues its transcode. Returns the video id.
pub async fn add_sample_video(
    app: &Arc<App>,
    owner_id: &str,
    course_id: &str,
    spec: sealcast_transcoder::SampleSpec,
) -> Result<String, DemoError> {
    let dir = app.config.data_dir.join("tmp");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let path = dir.join(format!("sample-{}.mp4", new_id()));
    let result = store_sample(app, owner_id, course_id, spec, &path).await;
    let _ = tokio::fs::remove_file(&path).await;
    result
}

async fn store_sample(
    app: &Arc<App>,
    owner_id: &str,
    course_id: &str,
    spec: sealcast_transcoder::SampleSpec,
    path: &std::path::Path,
) -> Result<String, DemoError> {
    let target = path.to_path_buf();
    tokio::task::spawn_blocking(move || sealcast_transcoder::generate_sample(&target, &spec))
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let size = tokio::fs::metadata(path)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?
        .len();

    let id = new_id();
    let sample = NewVideo {
        id: &id,
        course_id,
        owner_id,
        title: "Sample: test pattern",
        size_bytes: size,
    };
    model::insert(&app.db.pool, &sample).await?;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| DemoError::Sample(e.to_string()))?;
    let body = tokio_util::io::ReaderStream::new(file)
        .map(|chunk| chunk.map_err(std::io::Error::other))
        .boxed();
    let key = ObjectKey::new(layout::upload_source_key(&id))?;
    app.storage.put(&key, body).await?;
    crate::jobs::queue::enqueue(&app.db, &id).await?;
    Ok(id)
}

/// Emails of the demo accounts (`.test` is reserved: never a real mailbox).
pub const DEMO_ADMIN: &str = "admin@sealcast.test";
pub const DEMO_CREATOR: &str = "creator@sealcast.test";
pub const DEMO_LEARNER: &str = "learner@sealcast.test";

/// The demo accounts with the passwords set by this start.
pub struct DemoAccounts {
    pub accounts: Vec<(&'static str, Role, String)>,
    pub creator_id: String,
    pub course_id: String,
    /// Whether the course still needs its sample video.
    pub needs_sample: bool,
}

impl std::fmt::Debug for DemoAccounts {
    /// Never prints the passwords: they go to the terminal once, by [`print`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DemoAccounts")
            .field("course_id", &self.course_id)
            .finish_non_exhaustive()
    }
}

/// A random password of 80 bits in four easy-to-type groups.
fn fresh_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..4)
        .map(|_| {
            (0..4)
                .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Creates the demo accounts, or gives existing ones fresh passwords (the
/// old ones were only ever printed), and the demo course.
pub async fn prepare_accounts(db: &Db) -> Result<DemoAccounts, DemoError> {
    let mut accounts = Vec::new();
    let mut ids = Vec::new();
    for (email, role) in [
        (DEMO_ADMIN, Role::Admin),
        (DEMO_CREATOR, Role::Creator),
        (DEMO_LEARNER, Role::Learner),
    ] {
        let password = fresh_password();
        let id = match users::find_by_email(db, email).await? {
            Some((user, _)) => {
                let hash = passwords::hash_password(&password).await?;
                sqlx::query(
                    "UPDATE users SET password_hash = $1, disabled_at = NULL, role = $2 WHERE id = $3",
                )
                .bind(&hash)
                .bind(role.as_str())
                .bind(&user.id)
                .execute(&db.pool)
                .await?;
                refresh::revoke_user(db, &user.id).await?;
                user.id
            }
            None => users::create_user(db, email, &password, role).await?.id,
        };
        ids.push(id);
        accounts.push((email, role, password));
    }
    let (creator_id, learner_id) = (ids[1].clone(), ids[2].clone());
    let existing: Option<(String,)> =
        sqlx::query_as("SELECT id FROM courses WHERE owner_id = $1 AND title = $2")
            .bind(&creator_id)
            .bind(DEMO_COURSE_TITLE)
            .fetch_optional(&db.pool)
            .await?;
    let course_id = match existing {
        Some((id,)) => id,
        None => {
            courses::create_course(db, &creator_id, DEMO_COURSE_TITLE)
                .await?
                .id
        }
    };
    match courses::enroll(db, &course_id, &learner_id).await {
        Ok(_) | Err(IdentityError::AlreadyEnrolled) => {}
        Err(e) => return Err(e.into()),
    }
    let videos = model::count_in_course(db, &course_id).await?;
    Ok(DemoAccounts {
        accounts,
        creator_id,
        course_id,
        needs_sample: videos == 0,
    })
}

/// Prints the accounts once, to the terminal (stdout), never to the log.
pub fn print(accounts: &DemoAccounts, base_url: &str) {
    let mut out = String::new();
    out.push_str("\n  sealcast demo — open ");
    out.push_str(base_url);
    out.push_str("/ and log in as one of:\n\n");
    for (email, role, password) in &accounts.accounts {
        out.push_str(&format!(
            "    {:<8} {email:<24} password: {password}\n",
            role.as_str()
        ));
    }
    out.push_str(
        "\n  These passwords are shown only now; the next `serve --demo` sets new ones.\n  \
         The learner is enrolled in \"Welcome to sealcast\"; its sample video is ready in a minute.\n\n",
    );
    print!("{out}");
}
