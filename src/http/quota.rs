//! `/v1/quota`: the request quotas the caller's tenant and key are held to.

use super::extract::{perm, Auth};
use super::AppState;
use crate::error::Result;
use crate::service::quotas::{self, QuotaView};
use axum::extract::State;
use axum::Json;

/// The limits the caller's calls are held to on this instance (any role; read-only): the
/// tenant's (its own limit, set with `grantd tenant quota`, else the instance default) and
/// every key's, each for two budgets, decisions (`authorize`, a batch counting each
/// request in it; grant writes; access checks) and every other call. `null`: unlimited.
/// Over a limit a call is refused with 429 `rate_limited`, `Retry-After` (seconds) and
/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`; it decides and audits
/// nothing. Quotas hold per instance.
#[utoipa::path(get, path = "/v1/quota", tag = "quota",
    responses((status = 200, description = "the limits", body = QuotaView),
        (status = 429, description = "rate_limited: over the tenant's or the key's quota; Retry-After says when to retry", body = crate::error::ErrorBody)))]
pub async fn get_quota(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadQuota>,
) -> Result<Json<QuotaView>> {
    Ok(Json(
        quotas::view(&state.services.quotas, caller.tenant_id).await?,
    ))
}
