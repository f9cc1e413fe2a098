//! Courses and enrollments: who owns a course, who may watch its videos.

use serde::Serialize;

use super::sessions::{announce_if, end_sessions_on, EndReason, SessionScope};
use super::{taken_or_db, IdentityError, Invalid, Role};
use crate::db::{new_id, now_ms, Db};
use crate::videos::access::{self as rule, Access, Viewer};

/// A course; its creator owns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Course {
    pub id: String,
    pub title: String,
    pub owner_id: String,
    /// Unix seconds.
    pub created_at: i64,
}

/// A learner's membership of a course.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Enrollment {
    pub course_id: String,
    pub user_id: String,
    pub email: String,
    /// Unix seconds.
    pub created_at: i64,
}

type CourseRow = (String, String, String, i64);

fn course((id, title, owner_id, created_at): CourseRow) -> Course {
    Course {
        id,
        title,
        owner_id,
        created_at: created_at / 1000,
    }
}

pub const MAX_TITLE_LEN: usize = 200;

/// Creates a course owned by `owner_id`.
pub async fn create_course(db: &Db, owner_id: &str, title: &str) -> Result<Course, IdentityError> {
    let title = title.trim();
    if title.is_empty() || title.chars().count() > MAX_TITLE_LEN {
        return Err(IdentityError::Invalid(
            Invalid::Title,
            format!("title needs 1 to {MAX_TITLE_LEN} characters"),
        ));
    }
    let (id, now) = (new_id(), now_ms());
    sqlx::query("INSERT INTO courses (id, title, owner_id, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&id)
        .bind(title)
        .bind(owner_id)
        .bind(now)
        .execute(&db.pool)
        .await?;
    Ok(course((id, title.to_string(), owner_id.to_string(), now)))
}

pub async fn get_course(db: &Db, id: &str) -> Result<Option<Course>, IdentityError> {
    let row: Option<CourseRow> =
        sqlx::query_as("SELECT id, title, owner_id, created_at FROM courses WHERE id = $1")
            .bind(id)
            .fetch_optional(&db.pool)
            .await?;
    Ok(row.map(course))
}

/// Courses a user may see: admin all, others owned + enrolled.
pub async fn list_courses_for(
    db: &Db,
    user_id: &str,
    role: Role,
) -> Result<Vec<Course>, IdentityError> {
    let rows: Vec<CourseRow> = if role == Role::Admin {
        sqlx::query_as(
            "SELECT id, title, owner_id, created_at FROM courses ORDER BY created_at, id LIMIT 10000",
        )
        .fetch_all(&db.pool)
        .await?
    } else {
        sqlx::query_as(
            "SELECT id, title, owner_id, created_at FROM courses \
             WHERE owner_id = $1 OR id IN (SELECT course_id FROM enrollments WHERE user_id = $1) \
             ORDER BY created_at, id LIMIT 10000",
        )
        .bind(user_id)
        .fetch_all(&db.pool)
        .await?
    };
    Ok(rows.into_iter().map(course).collect())
}

pub async fn is_enrolled(db: &Db, course_id: &str, user_id: &str) -> Result<bool, IdentityError> {
    Ok(rule::is_enrolled(db, course_id, user_id).await?)
}

/// What `user` may do with `course`: the one rule of [`crate::videos::access`].
pub async fn access(
    db: &Db,
    course: &Course,
    user_id: &str,
    role: Role,
) -> Result<Access, IdentityError> {
    let viewer = Viewer {
        user_id,
        is_admin: role == Role::Admin,
    };
    let managed = rule::for_course(viewer, &course.owner_id, false);
    if managed == Access::Manage {
        return Ok(managed);
    }
    let enrolled = is_enrolled(db, &course.id, user_id).await?;
    Ok(rule::for_course(viewer, &course.owner_id, enrolled))
}

/// Enrolls `user_id` in `course_id`.
pub async fn enroll(db: &Db, course_id: &str, user_id: &str) -> Result<Enrollment, IdentityError> {
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_optional(&db.pool)
        .await?;
    let email = email.ok_or(IdentityError::NotFound("user"))?;
    if get_course(db, course_id).await?.is_none() {
        return Err(IdentityError::NotFound("course"));
    }
    let now = now_ms();
    sqlx::query("INSERT INTO enrollments (course_id, user_id, created_at) VALUES ($1, $2, $3)")
        .bind(course_id)
        .bind(user_id)
        .bind(now)
        .execute(&db.pool)
        .await
        .map_err(taken_or_db(IdentityError::AlreadyEnrolled))?;
    Ok(Enrollment {
        course_id: course_id.to_string(),
        user_id: user_id.to_string(),
        email,
        created_at: now / 1000,
    })
}

pub async fn list_enrollments(db: &Db, course_id: &str) -> Result<Vec<Enrollment>, IdentityError> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT e.user_id, u.email, e.created_at FROM enrollments e JOIN users u ON u.id = e.user_id \
         WHERE e.course_id = $1 ORDER BY e.created_at, e.user_id LIMIT 100000",
    )
    .bind(course_id)
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, email, created_at)| Enrollment {
            course_id: course_id.to_string(),
            user_id,
            email,
            created_at: created_at / 1000,
        })
        .collect())
}

/// Removes an enrollment and ends that user's live sessions on the course's
/// videos. Returns how many sessions ended.
pub async fn unenroll(db: &Db, course_id: &str, user_id: &str) -> Result<u64, IdentityError> {
    // One transaction: the enrollment goes, its live sessions end and the
    // `access.revoked` webhook is written, or none of them happens.
    let mut tx = db.pool.begin().await?;
    let removed = sqlx::query("DELETE FROM enrollments WHERE course_id = $1 AND user_id = $2")
        .bind(course_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if removed == 0 {
        return Err(IdentityError::NotFound("enrollment"));
    }
    let ended = end_sessions_on(
        &mut *tx,
        SessionScope::UserInCourse { user_id, course_id },
        EndReason::Unenrolled,
    )
    .await?;
    let data = serde_json::json!({
        "kind": "enrollment",
        "id": course_id,
        "user_id": user_id,
        "sessions_ended": ended,
    });
    crate::webhooks::enqueue(&mut tx, crate::webhooks::Event::AccessRevoked, data).await?;
    tx.commit().await?;
    announce_if(db, ended).await
}
