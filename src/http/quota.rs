//! `/v1/quota`: the request quotas the caller's tenant and key are held to.

use super::extract::{perm, ApiJson, Auth};
use super::AppState;
use crate::error::Result;
use crate::service::quotas::{self, QuotaUpdate, QuotaView};
use axum::extract::State;
use axum::Json;

/// The limits the caller's calls are held to on this instance (any role): the tenant's
/// (the operator's limit for it, set with `grantd tenant quota`, else the instance default,
/// lowered by the tenant admin's own, `PUT /v1/quota`) and
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

/// Set (or clear, with `null`) the limit the caller's tenant holds itself to (admin): it
/// lowers the limit the operator or the instance default sets, number by number, and never
/// raises it (only the operator can, with `grantd tenant quota`). Audited as
/// `tenant.quota` with `{"self_quota": …}`; applied on this instance at once and on others
/// within a second. Answers the limits as `GET /v1/quota` does.
#[utoipa::path(put, path = "/v1/quota", tag = "quota", request_body = QuotaUpdate,
    responses((status = 200, description = "the limits from now on", body = QuotaView),
        (status = 400, description = "invalid_input: rps or burst outside 1 to 1,000,000, or an unknown field", body = crate::error::ErrorBody),
        (status = 403, description = "forbidden: not an admin key", body = crate::error::ErrorBody),
        (status = 429, description = "rate_limited: over the tenant's or the key's quota; Retry-After says when to retry", body = crate::error::ErrorBody)))]
pub async fn put_quota(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageSettings>,
    ApiJson(body): ApiJson<QuotaUpdate>,
) -> Result<Json<QuotaView>> {
    let now = state.services.clock.now();
    Ok(Json(
        quotas::put_self_limit(&state.services.quotas, &caller, body, now).await?,
    ))
}
