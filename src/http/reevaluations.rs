//! `/v1/settings` (the tenant's `on_change`) and `/v1/reevaluations/{id}` (what a
//! configuration write's re-evaluation of active grants found and did).

use super::extract::{perm, ApiJson, Auth};
use super::AppState;
use crate::domain::reevaluation::Reevaluation;
use crate::error::Result;
use crate::service::reevaluate::{self, Settings};
use axum::extract::{Path, State};
use axum::Json;

/// The tenant's settings.
#[utoipa::path(get, path = "/v1/settings", tag = "changes",
    responses((status = 200, description = "the tenant's settings", body = Settings)))]
pub async fn get_settings(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
) -> Result<Json<Settings>> {
    Ok(Json(reevaluate::settings(&state.services, &caller).await?))
}

/// Replace the tenant's settings (admin). `on_change` applies to configuration writes
/// committed from then on; audited as `settings.update`.
#[utoipa::path(put, path = "/v1/settings", tag = "changes", request_body = Settings,
    responses(
        (status = 200, description = "stored", body = Settings),
        (status = 400, description = "invalid_input: an unknown `on_change`", body = crate::error::ErrorBody),
    ))]
pub async fn put_settings(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageSettings>,
    ApiJson(body): ApiJson<Settings>,
) -> Result<Json<Settings>> {
    Ok(Json(
        reevaluate::put_settings(&state.services, &caller, body).await?,
    ))
}

/// A re-evaluation: the one a policy, schema or entity write started after it committed
/// (its id is the write's `reevaluation_id`, the `policy_set_version` it committed). It
/// works in the background through the tenant's active grants in id order, in batches;
/// `status` is `pending`, `running`, `done`, or `superseded` (a later write's
/// re-evaluation took over and examines every grant again). `found` counts what it found
/// (as a change preview would), `applied` what it did under the tenant's `on_change`.
#[utoipa::path(get, path = "/v1/reevaluations/{id}", tag = "changes",
    params(("id" = i64, Path, description = "the write's `reevaluation_id`")),
    responses(
        (status = 200, description = "the re-evaluation", body = Reevaluation),
        (status = 404, description = "not_found", body = crate::error::ErrorBody),
    ))]
pub async fn get_reevaluation(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
    Path(id): Path<String>,
) -> Result<Json<Reevaluation>> {
    Ok(Json(reevaluate::get(&state.services, &caller, &id).await?))
}
