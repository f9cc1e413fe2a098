//! Who may do what with a video: the one rule every caller uses (the video
//! API, starting playback, and the key store before it hands out a key).
//!
//! Admins, the course's owner and the video's uploader manage it (see it in
//! every state, delete it, watch it); a learner enrolled in the course may
//! watch it once it is ready; nobody else learns it exists.

use super::{Video, VideoStatus};
use crate::db::Db;

/// What a caller may do with one video.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Manage,
    Watch,
    None,
}

/// The caller, as far as the rule needs to know.
#[derive(Debug, Clone, Copy)]
pub struct Viewer<'a> {
    pub user_id: &'a str,
    pub is_admin: bool,
}

/// The rule at course level: admins and the owner manage, enrolled
/// learners watch.
pub fn for_course(viewer: Viewer<'_>, course_owner_id: &str, enrolled: bool) -> Access {
    if viewer.is_admin || viewer.user_id == course_owner_id {
        Access::Manage
    } else if enrolled {
        Access::Watch
    } else {
        Access::None
    }
}

/// The rule for one video: its uploader manages it too, and learners watch
/// only ready videos.
pub fn decide(
    viewer: Viewer<'_>,
    course_owner_id: &str,
    video_owner_id: &str,
    status: VideoStatus,
    enrolled: bool,
) -> Access {
    if viewer.user_id == video_owner_id {
        return Access::Manage;
    }
    match for_course(viewer, course_owner_id, enrolled) {
        Access::Watch if status != VideoStatus::Ready => Access::None,
        access => access,
    }
}

impl Access {
    /// May the caller receive this video's keys and segments?
    pub fn may_watch(self) -> bool {
        matches!(self, Access::Manage | Access::Watch)
    }
}

/// The caller's access to `video`, reading the enrollment only when needed.
pub async fn access(db: &Db, viewer: Viewer<'_>, video: &Video) -> Result<Access, sqlx::Error> {
    let managed = decide(
        viewer,
        &video.course_owner_id,
        &video.owner_id,
        video.status,
        false,
    );
    if managed == Access::Manage {
        return Ok(managed);
    }
    let enrolled = is_enrolled(db, &video.course_id, viewer.user_id).await?;
    Ok(decide(
        viewer,
        &video.course_owner_id,
        &video.owner_id,
        video.status,
        enrolled,
    ))
}

/// Whether the caller may watch `video` once it is ready, whatever its
/// state now (starting playback tells "not yours" from "not yet").
pub async fn entitled(db: &Db, viewer: Viewer<'_>, video: &Video) -> Result<bool, sqlx::Error> {
    let when_ready = Video {
        status: VideoStatus::Ready,
        ..video.clone()
    };
    Ok(access(db, viewer, &when_ready).await?.may_watch())
}

pub async fn is_enrolled(db: &Db, course_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    let row: Option<i64> =
        sqlx::query_scalar("SELECT 1 FROM enrollments WHERE course_id = $1 AND user_id = $2")
            .bind(course_id)
            .bind(user_id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(id: &str, admin: bool) -> Viewer<'_> {
        Viewer {
            user_id: id,
            is_admin: admin,
        }
    }

    #[test]
    fn the_rule() {
        use VideoStatus::*;
        let d = |v, status, enrolled| decide(v, "owner", "uploader", status, enrolled);
        assert_eq!(d(who("x", true), Processing, false), Access::Manage);
        assert_eq!(d(who("owner", false), Failed, false), Access::Manage);
        assert_eq!(d(who("uploader", false), Queued, false), Access::Manage);
        assert_eq!(d(who("x", false), Ready, true), Access::Watch);
        assert_eq!(d(who("x", false), Processing, true), Access::None);
        assert_eq!(d(who("x", false), Ready, false), Access::None);
    }
}
