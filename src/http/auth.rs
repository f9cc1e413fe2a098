//! Who is calling: the `Authorization: Bearer <JWT>` extractor.
//!
//! A token proves identity; the database decides standing. Every request
//! re-reads the user's role and disabled flag, so disabling a user bites at
//! the next request on every node, whatever tokens they still hold.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum_extra::headers::authorization::Bearer;
use axum_extra::headers::{Authorization, HeaderMapExt};
use sealcast_keyserver::{Issuer, Role, TokenError};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

use super::AppState;
use crate::error::{ApiError, ErrorCode};
use crate::identity::external::{provision_external, ExternalIdentity};

/// An authenticated caller whose account exists and is not disabled.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: String,
    pub role: Role,
}

impl AuthUser {
    /// Refuses callers whose role is not in `allowed` (403 `forbidden`).
    pub fn require(&self, allowed: &[Role]) -> Result<(), ApiError> {
        if allowed.contains(&self.role) {
            Ok(())
        } else {
            Err(ApiError::new(
                ErrorCode::Forbidden,
                "your role may not do this",
            ))
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The raw bearer token of a request (`Authorization: Bearer …`), if any.
pub fn bearer_token(parts: &Parts) -> Option<String> {
    parts
        .headers
        .typed_get::<Authorization<Bearer>>()
        .map(|auth| auth.token().to_string())
}

/// Maps a token failure to 401 with a stable code.
pub fn token_error(err: TokenError) -> ApiError {
    let code = match err {
        TokenError::Expired => ErrorCode::TokenExpired,
        _ => ErrorCode::InvalidToken,
    };
    ApiError::new(code, format!("access token rejected: {err}"))
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or_else(|| {
            ApiError::new(
                ErrorCode::MissingToken,
                "send Authorization: Bearer <access token>",
            )
        })?;
        let identity = match app.verifier.verify(&token) {
            // Perhaps signed with a key rotated in since this node's last reload.
            Err(TokenError::UnknownKid) if app.keyring.reload_for_unknown().await => {
                app.verifier.verify(&token)
            }
            verified => verified,
        }
        .map_err(token_error)?;
        let mut row: Option<(String, Option<i64>)> =
            sqlx::query_as("SELECT role, disabled_at FROM users WHERE id = $1")
                .bind(&identity.user_id)
                .fetch_optional(&app.db.pool)
                .await?;
        if let (None, Issuer::External, Some(subject), Some(external)) = (
            &row,
            identity.issuer,
            identity.external_subject.as_deref(),
            app.config.identity.external.as_ref(),
        ) {
            // A course platform's user on their first request.
            let who = ExternalIdentity {
                issuer: &external.issuer,
                subject,
                user_id: &identity.user_id,
                role: identity.role,
            };
            let user = provision_external(&app.db, who).await?;
            row = Some((user.role.as_str().to_string(), user.disabled.then_some(0)));
        }
        match row {
            None => Err(ApiError::new(ErrorCode::InvalidToken, "unknown user")),
            Some((_, Some(_))) => Err(ApiError::new(
                ErrorCode::UserDisabled,
                "this account is disabled",
            )),
            Some((role, None)) => Ok(AuthUser {
                id: identity.user_id,
                role: role
                    .parse()
                    .map_err(|_| ApiError::internal(format_args!("bad role {role}")))?,
            }),
        }
    }
}

/// Declares, in the OpenAPI document, the `bearer` scheme the paths refer to.
pub(crate) struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}
