//! `/v1/changes`: what a configuration write would do, before it is made.

use super::extract::{perm, ApiJson, Auth};
use super::AppState;
use crate::error::Result;
use crate::service::changes::{self, Preview, PreviewBody};
use axum::extract::State;
use axum::Json;

/// Preview one configuration write (author and admin): the body names it exactly as it
/// would be sent (`method`, `path`, `body`: a policy create, patch or delete, a schema put,
/// an entities put or delete). The change is checked as the write would check it (an
/// invalid change answers 400, a taken key or a policy that governs active grants 409, a
/// missing policy or entity 404, as the write would) and compiled with the tenant's
/// configuration; then every effectively active grant is re-decided under it as its last
/// decision was made (`grants`: those that would be `denied`, `clamped` to the new
/// governing maximum, or governed by another policy, `policy_changed`), and the newest
/// 10,000 recorded `authorize`, `grant.request` and `grant.extend` decisions since `since`
/// (default 7 days ago) are replayed (`decisions`: those whose decision or deny reason
/// would flip). Nothing is written, not even an audit event.
#[utoipa::path(post, path = "/v1/changes/preview", tag = "changes",
    request_body = PreviewBody,
    responses(
        (status = 200, description = "what the change would do", body = Preview),
        (status = 400, description = "invalid_input: not a configuration write, or the change is invalid as its write would say (diagnostics in `notices`)", body = crate::error::ErrorBody),
        (status = 404, description = "not_found: the policy or entity the change names does not exist", body = crate::error::ErrorBody),
        (status = 409, description = "conflict: the write would be refused (a taken key; deleting a policy that governs active grants)", body = crate::error::ErrorBody),
    ))]
pub async fn preview(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    ApiJson(body): ApiJson<PreviewBody>,
) -> Result<Json<Preview>> {
    Ok(Json(
        changes::preview(&state.services, &caller, body).await?,
    ))
}
