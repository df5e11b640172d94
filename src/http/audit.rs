//! `/v1/audit-events`: reading and verifying the tenant's audit chain.

use super::extract::{perm, Auth};
use super::AppState;
use crate::domain::audit::VerifyReport;
use crate::error::Result;
use axum::extract::State;
use axum::Json;

/// Recompute the tenant's hash chain and report the first event that was altered or whose
/// predecessor is missing. Record `head_hash` elsewhere to detect a rewritten tail later.
#[utoipa::path(get, path = "/v1/audit-events/verify", tag = "audit",
    responses((status = 200, description = "verification report", body = VerifyReport)))]
pub async fn verify(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadAudit>,
) -> Result<Json<VerifyReport>> {
    Ok(Json(
        state.services.store.verify_chain(caller.tenant_id).await?,
    ))
}
