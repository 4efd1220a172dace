//! Sessions: a bearer token (cookie on the web, `Authorization: Bearer` in the API)
//! whose digest the store keeps. The idle limit is enforced on the server in the same
//! statement that records activity (RTS art. 4(3)(d), P10).

use super::{Actor, Origin, ServiceError, ServiceResult, Services, audit};
use serde_json::json;
use sigillo_core::time::UnixMillis;
use sigillo_core::token;
use sigillo_store::repo::sessions;
use sigillo_store::repo::users::{self, User, UserStatus};

/// Everything the customer may do.
pub const SCOPE_FULL: &str = "full";
/// After a login with an envelope's initial password: only the password change.
pub const SCOPE_PASSWORD_ONLY: &str = "password_change";

/// A card-portal session ("Area Riservata"): the holder's cards and their Key6, nothing
/// of web banking's.
pub const SCOPE_PORTAL: &str = "portal";

/// An authenticated request's session and user.
#[derive(Clone, Debug)]
pub struct SessionCtx {
    pub session_id: String,
    pub user: User,
    pub scope: String,
}

impl SessionCtx {
    pub fn must_change_password(&self) -> bool {
        self.scope == SCOPE_PASSWORD_ONLY
    }

    /// Refuses sessions limited to the password change.
    pub fn require_full(&self) -> ServiceResult<()> {
        if self.scope == SCOPE_FULL { Ok(()) } else { Err(ServiceError::Forbidden) }
    }

    pub fn actor(&self) -> Actor {
        Actor::User(self.user.id.clone())
    }
}

impl Services {
    /// The live web banking session behind `token`, after recording this activity. A
    /// card-portal session is not one ([`Self::authenticate_portal`]).
    pub async fn authenticate(&self, token: &str) -> ServiceResult<SessionCtx> {
        let ctx = self.authenticate_any(token).await?;
        if ctx.scope == SCOPE_PORTAL { Err(ServiceError::Unauthenticated) } else { Ok(ctx) }
    }

    /// The live card-portal session behind `token`; a web banking session is not one.
    pub async fn authenticate_portal(&self, token: &str) -> ServiceResult<SessionCtx> {
        let ctx = self.authenticate_any(token).await?;
        if ctx.scope == SCOPE_PORTAL && ctx.user.portal { Ok(ctx) } else { Err(ServiceError::Unauthenticated) }
    }

    async fn authenticate_any(&self, token: &str) -> ServiceResult<SessionCtx> {
        let now = self.now().0;
        let idle_ms = i64::try_from(self.cfg.security.session_idle_secs * 1000).unwrap_or(300_000);
        let mut conn = self.store.conn().await?;
        let session = match sessions::touch(&mut conn, &token::digest(token), now, idle_ms).await? {
            sessions::Touched::Live(session) => session,
            sessions::Touched::Expired { id, user_id } => {
                drop(conn);
                let mut tx = self.store.begin().await?;
                audit(
                    &mut tx,
                    UnixMillis(now),
                    &Actor::System,
                    "session.expired",
                    &user_id,
                    &Origin::internal(),
                    json!({
                        "session": id, "reason": "idle",
                    }),
                )
                .await?;
                sigillo_store::commit(tx).await?;
                return Err(ServiceError::Unauthenticated);
            }
            sessions::Touched::Dead => return Err(ServiceError::Unauthenticated),
        };
        let user = users::by_id(&mut conn, &session.user_id).await?.ok_or(ServiceError::Unauthenticated)?;
        if matches!(user.status, UserStatus::Locked | UserStatus::Blocked) {
            sessions::end(&mut conn, &session.id, "user_locked", now).await?;
            return Err(ServiceError::Unauthenticated);
        }
        Ok(SessionCtx { session_id: session.id, user, scope: session.scope })
    }

    pub async fn logout(&self, ctx: &SessionCtx, origin: &Origin) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if sessions::end(&mut tx, &ctx.session_id, "logout", now.0).await? {
            audit(
                &mut tx,
                now,
                &ctx.actor(),
                "session.logout",
                &ctx.user.id,
                origin,
                json!({ "session": ctx.session_id }),
            )
            .await?;
        }
        sigillo_store::commit(tx).await?;
        Ok(())
    }
}
