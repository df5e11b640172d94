//! `/v1/grants` and `/v1/access/check`: the grant lifecycle. Grant responses carry
//! `ETag: "<version>"`; `If-Match` is honoured on extend, revoke and PUT.

use super::extract::{if_match, perm, ApiJson, ApiQuery, Auth, OptionalJson};
use super::{etag, AppState};
use crate::domain::grant::Grant;
use crate::error::{ErrorBody, Result};
use crate::service::grants::{
    self, AccessCheckBody, AccessCheckResult, ExtendBody, GrantDecision, RequestBody,
    RequestOutcome, RevokeBody, UpdateBody,
};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

fn grant_response<T: serde::Serialize>(status: StatusCode, version: i64, body: T) -> Response {
    (status, [(header::ETAG, etag(version))], Json(body)).into_response()
}

/// Request a grant. Evaluated as `Action::"request"` with `GrantContext`; permitted → 201
/// with the grant, its governing policy and capped duration; denied → 403 `access_denied`
/// with the notices of the determining rules. With `Idempotency-Key`, a retry with the same
/// body gets the first answer (201 or 403) for 24 hours; another body gets 409.
#[utoipa::path(post, path = "/v1/grants", tag = "grants", request_body = RequestBody,
    params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins"),
           ("Idempotency-Key" = Option<String>, Header, description = "makes retries safe (per API key, 24 h)")),
    responses(
        (status = 201, description = "granted", body = GrantDecision),
        (status = 403, description = "access_denied (with notices, details.determining, details.deny_reason) or forbidden", body = ErrorBody),
        (status = 409, description = "the Idempotency-Key was used with another body", body = ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody),
    ))]
pub async fn request_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RequestBody>,
) -> Result<Response> {
    let key = headers
        .get("idempotency-key")
        .map(|v| {
            v.to_str()
                .map(str::to_string)
                .map_err(|_| crate::error::Error::invalid("Idempotency-Key must be visible ASCII"))
        })
        .transpose()?;
    match grants::request(&state.services, &caller, body, key).await? {
        RequestOutcome::Created(d) => Ok(grant_response(StatusCode::CREATED, d.grant.version, d)),
        RequestOutcome::Replay { status, body } => Ok((
            StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response()),
    }
}

/// Read a grant (its `status` is the effective, expiry-aware one).
#[utoipa::path(get, path = "/v1/grants/{id}", tag = "grants",
    params(("id" = String, Path, description = "grant id")),
    responses((status = 200, description = "the grant", body = Grant)))]
pub async fn get_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadGrants>,
    Path(id): Path<String>,
) -> Result<Response> {
    let s = &state.services;
    let g = grants::get(&s.store, caller.tenant_id, &id, s.clock.now()).await?;
    Ok(grant_response(StatusCode::OK, g.version, g))
}

/// Extend an active grant to `now + duration_seconds` or to `expires_at`. Evaluated as
/// `Action::"extend"`; the lifetime is capped at `granted_at + max_duration_seconds` of the
/// governing policy (`clamped` says so). An extension never shortens a grant: a new expiry
/// before the current one is a 400 (shortening is `PUT` with `expires_at`), and a cap that
/// would end the grant earlier than now is a 409.
#[utoipa::path(post, path = "/v1/grants/{id}/extend", tag = "grants", request_body = ExtendBody,
    params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins"),
           ("id" = String, Path, description = "grant id"),
           ("If-Match" = Option<String>, Header, description = "the grant version the change is based on")),
    responses(
        (status = 200, description = "extended", body = GrantDecision),
        (status = 400, description = "invalid_input: not exactly one of duration_seconds and expires_at, a duration <= 0, an expiry not after now, or a new expiry before the current one", body = ErrorBody),
        (status = 403, description = "access_denied; the grant is unchanged", body = ErrorBody),
        (status = 409, description = "the grant is not active, If-Match is stale, or the governing policy's lifetime cap ends before the current expiry", body = ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody),
    ))]
pub async fn extend_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ExtendBody>,
) -> Result<Response> {
    let d = grants::extend(&state.services, &caller, &id, body, if_match(&headers)?).await?;
    Ok(grant_response(StatusCode::OK, d.grant.version, d))
}

/// Revoke an active grant (body optional: `{"reason"}`).
#[utoipa::path(post, path = "/v1/grants/{id}/revoke", tag = "grants", request_body = RevokeBody,
    params(("id" = String, Path, description = "grant id"),
           ("If-Match" = Option<String>, Header, description = "the grant version the change is based on")),
    responses(
        (status = 200, description = "revoked", body = Grant),
        (status = 409, description = "the grant is not active, or If-Match is stale", body = ErrorBody),
    ))]
pub async fn revoke_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<RevokeBody>,
) -> Result<Response> {
    let g = grants::revoke(
        &state.services,
        &caller,
        &id,
        body.reason,
        if_match(&headers)?,
    )
    .await?;
    Ok(grant_response(StatusCode::OK, g.version, g))
}

/// Change a grant: `scopes` (re-evaluated as `Action::"request"` with the grant's real
/// durations; the governing policy of that decision becomes the grant's and its lifetime
/// cap applies, `clamped` says so), `expires_at` (earlier than the current expiry and after
/// now: shortens the grant, no re-decision), `status: REVOKED` (as revoke); admin only:
/// `status: EXTENDED | EXPIRED`, `granted_by`, `granted_at` (not after now),
/// `policy_id`/`policy_key` (re-evaluated and capped like a scope change).
#[utoipa::path(put, path = "/v1/grants/{id}", tag = "grants", request_body = UpdateBody,
    params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins"),
           ("id" = String, Path, description = "grant id"),
           ("If-Match" = Option<String>, Header, description = "the grant version the change is based on")),
    responses(
        (status = 200, description = "changed (the Grant plus `clamped`)", body = crate::service::grants::Updated),
        (status = 400, description = "invalid_input: `granted_at` after now, `expires_at` not after now or not earlier than the current expiry", body = ErrorBody),
        (status = 403, description = "forbidden (admin-only field) or access_denied (re-evaluation)", body = ErrorBody),
        (status = 409, description = "illegal status transition, or If-Match is stale", body = ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody),
    ))]
pub async fn update_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Response> {
    let u = grants::update(&state.services, &caller, &id, body, if_match(&headers)?).await?;
    Ok(grant_response(StatusCode::OK, u.grant.version, u))
}

/// Approve a PENDING_APPROVAL grant as the approver named by `X-On-Behalf-Of` (a `User` in
/// the entity store; requester or admin key). Decided by Cedar as `Action::"approve"` on the
/// grant's resource with `ApprovalContext` (`requester`, `requested_by`, `scopes`, `reason`,
/// `duration_seconds`, `approvals`, `required_approvals`); when the approver is the grant's
/// user or its requester, as `Action::"self_approve"`, which counts only when a permit rule
/// that names `self_approve` determines it. Where the governing policy's `approval` names
/// `approvers`, only that entity and its members may approve. When the distinct approvals
/// reach the policy's `count`, the grant's request is decided again on the current policies
/// and the grant becomes GRANTED: `granted_at` = now, `expires_at` = now + its duration
/// (clamped to the governing policy's maximum), `granted_by` = the approvers,
/// comma-separated. Audited as `grant.approve` with the approver and the notices.
#[utoipa::path(post, path = "/v1/grants/{id}/approve", tag = "grants",
    request_body(content = Option<crate::service::approvals::ApprovalBody>, description = "optional: `{\"reason\"}`"),
    params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write)"),
           ("id" = String, Path, description = "grant id"),
           ("X-On-Behalf-Of" = String, Header, description = "the approver: the id of a User in the entity store"),
           ("If-Match" = Option<String>, Header, description = "the grant version the decision is based on")),
    responses(
        (status = 200, description = "approved (`activated` says whether the grant became GRANTED)", body = crate::service::approvals::ApprovalDecision),
        (status = 400, description = "invalid_input: no X-On-Behalf-Of, or the approver is not in the entity store", body = ErrorBody),
        (status = 403, description = "access_denied: the approver is not among the policy's approvers, Cedar does not permit the approval (with notices), a self-approval without a rule naming self_approve, or the request is no longer permitted at activation; the grant is unchanged", body = ErrorBody),
        (status = 409, description = "the grant is not PENDING_APPROVAL (or needs no approval), this approver already approved it, or If-Match is stale", body = ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach X-Min-Policy-Set-Version within 1 s (or unavailable)", body = crate::error::ErrorBody),
    ))]
pub async fn approve_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<crate::service::approvals::ApprovalBody>,
) -> Result<Response> {
    use crate::service::approvals::{decide, Verdict};
    let d = decide(
        &state.services,
        &caller,
        &id,
        Verdict::Approve,
        body,
        if_match(&headers)?,
    )
    .await?;
    Ok(grant_response(StatusCode::OK, d.grant.version, d))
}

/// Deny a PENDING_APPROVAL grant: it becomes DENIED (terminal). Who may deny is decided as
/// for approve (`Action::"approve"`, or `self_approve` on one's own grant). Audited as
/// `grant.deny` with the approver, the reason and the notices.
#[utoipa::path(post, path = "/v1/grants/{id}/deny", tag = "grants",
    request_body(content = Option<crate::service::approvals::ApprovalBody>, description = "optional: `{\"reason\"}`"),
    params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write)"),
           ("id" = String, Path, description = "grant id"),
           ("X-On-Behalf-Of" = String, Header, description = "the approver: the id of a User in the entity store"),
           ("If-Match" = Option<String>, Header, description = "the grant version the decision is based on")),
    responses(
        (status = 200, description = "denied", body = crate::service::approvals::ApprovalDecision),
        (status = 400, description = "invalid_input: no X-On-Behalf-Of, or the approver is not in the entity store", body = ErrorBody),
        (status = 403, description = "access_denied: the approver may not decide on this grant (with notices); the grant is unchanged", body = ErrorBody),
        (status = 409, description = "the grant is not PENDING_APPROVAL (or needs no approval), or If-Match is stale", body = ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach X-Min-Policy-Set-Version within 1 s (or unavailable)", body = crate::error::ErrorBody),
    ))]
pub async fn deny_grant(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    Path(id): Path<String>,
    headers: HeaderMap,
    OptionalJson(body): OptionalJson<crate::service::approvals::ApprovalBody>,
) -> Result<Response> {
    use crate::service::approvals::{decide, Verdict};
    let d = decide(
        &state.services,
        &caller,
        &id,
        Verdict::Deny,
        body,
        if_match(&headers)?,
    )
    .await?;
    Ok(grant_response(StatusCode::OK, d.grant.version, d))
}

/// Approvals waiting for me: the tenant's PENDING_APPROVAL grants, oldest first, that the
/// approver named by `X-On-Behalf-Of` has not approved yet and may approve now (among the
/// policy's approvers and permitted by Cedar, as `approve` would decide). One call looks at
/// up to 1,000 pending grants; `next_after` continues the walk.
#[utoipa::path(get, path = "/v1/approvals", tag = "grants",
    params(crate::service::approvals::WaitingQuery,
           ("X-On-Behalf-Of" = String, Header, description = "the approver: the id of a User in the entity store")),
    responses(
        (status = 200, description = "pending grants waiting for this approver", body = crate::service::approvals::WaitingPage),
        (status = 400, description = "invalid_input: no X-On-Behalf-Of, an unknown approver, a bad limit or after", body = ErrorBody),
    ))]
pub async fn approvals_waiting(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WriteGrants>,
    ApiQuery(q): ApiQuery<crate::service::approvals::WaitingQuery>,
) -> Result<Json<crate::service::approvals::WaitingPage>> {
    Ok(Json(
        crate::service::approvals::waiting(&state.services, &caller, q).await?,
    ))
}

/// Does the principal hold an active grant on exactly this resource that covers the scopes
/// (or one on an ancestor of it whose governing policy is enabled and has
/// `covers_descendants: true`)? The run-time enforcement path: one indexed read.
#[utoipa::path(post, path = "/v1/access/check", tag = "grants", params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins")),
    request_body = AccessCheckBody,
    responses((status = 200, description = "the answer", body = AccessCheckResult),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody)))]
pub async fn access_check(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::AccessCheck>,
    ApiJson(body): ApiJson<AccessCheckBody>,
) -> Result<Json<AccessCheckResult>> {
    Ok(Json(
        grants::access_check(&state.services, &caller, body).await?,
    ))
}

/// Find grants. The body is an array of filter objects `{"attribute", "operator",
/// "values": [{"value": ..}]}`, ANDed (`[]` or no body: all grants).
///
/// Attributes: `status` (effective; buckets `ACTIVE` = GRANTED+EXTENDED, `INACTIVE` =
/// REVOKED+EXPIRED, or a raw status: `GRANTED`, `EXTENDED`, `REVOKED`, `EXPIRED`,
/// `PENDING_APPROVAL`, `APPROVAL_EXPIRED` (a pending grant past its approval deadline),
/// `DENIED`), `approver` (a user who approved the grant: `EQUALS`, `IN`/`IS_ANY_OF` and
/// their negations), `user` (principal id), `principal`
/// (`T::"id"`), `app`, `entitlement` / `entitlement_value` (resource id), `resource`
/// (`T::"id"`), `policy` (id or key), `scopes`, `granted_by`, `requested_by`, and the
/// timestamps `granted_at`, `expires_at`, `last_used_at` (alias `last_login_at`: last access
/// check), `revoked_at`, `created_at`, `updated_at`; and `review_required` (a boolean: set
/// by a re-evaluation after a configuration change, `EQUALS`/`NOT_EQUALS` only).
///
/// Operators: `EQUALS`, `NOT_EQUALS`, `IS_EXACTLY`, `IN`/`IS_ANY_OF`, `NOT_IN`/`IS_NOT_ANY_OF`
/// on every other attribute; `IS_BETWEEN` (two values, inclusive), `IS_ON_OR_BEFORE`,
/// `IS_ON_OR_AFTER`, `GREATER_THAN`, `LESS_THAN`, `GREATER_THAN_EQUALS`, `LESS_THAN_EQUALS`
/// and `IS_WITHIN` (one ISO 8601 duration, e.g. `P7D`: within that span of now, past or
/// future) on timestamps (RFC 3339 values); `CONTAINS`, `NOT_CONTAINS`, `TEXT_CONTAINS`,
/// `TEXT_DOES_NOT_CONTAINS`, `STARTS_WITH`, `ENDS_WITH` on text attributes (ASCII case
/// ignored); on `scopes`, `CONTAINS` = has every value, `NOT_CONTAINS` = lacks one,
/// `IN` = has any, `NOT_IN` = has none, `EQUALS`/`IS_EXACTLY` = exactly this set;
/// `IS_NULL`/`IS_NOT_NULL` (no values) on `app`, `granted_by`, `requested_by`,
/// `last_used_at`, `revoked_at`, and on `scopes` (no scopes). Negative operators are exact
/// complements: a grant without a value matches `NOT_EQUALS`. Anything else → 400 naming
/// the filter, attribute and operator (`details.filter` is its index).
///
/// Pagination: `page` (OFFSET) or `next_page_token` (keyset; wins over `page`). Walking
/// the tokens returns each matching grant exactly once while grants are inserted or
/// changed, as long as a change does not move a grant's own sort value: extending a grant or
/// expiring it by `PUT` moves it in `EXPIRES_AT_*`, an admin's `PUT granted_at` moves it in
/// `GRANTED_AT_*`, any write moves it in `UPDATED_AT_*`; `CREATED_AT_*` never moves, so it is
/// the order for a walk that must be exact under every kind of write. Membership is judged
/// per page (a grant revoked mid-walk leaves an `ACTIVE` list). `total` is counted on the
/// page that starts a walk and carried by its tokens.
#[utoipa::path(post, path = "/v1/grants/list", tag = "grants",
    request_body(content = Option<Vec<crate::domain::grant_query::RawFilter>>, description = "filters, ANDed; may be omitted (no body, or `[]`: every grant)"),
    params(crate::service::grant_list::ListQuery),
    responses((status = 200, description = "a page of grants", body = crate::service::grant_list::GrantPage)))]
pub async fn list_grants(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadGrants>,
    ApiQuery(q): ApiQuery<crate::service::grant_list::ListQuery>,
    OptionalJson(filters): OptionalJson<Vec<crate::domain::grant_query::RawFilter>>,
) -> Result<Json<crate::service::grant_list::GrantPage>> {
    Ok(Json(
        crate::service::grant_list::list(&state.services, &caller, filters, q).await?,
    ))
}

/// Revoke every active grant matching the filters (the filter objects of `grants/list`,
/// at least one), each with its own `grant.revoke` audit event, in batches of 200 per
/// transaction so a large offboarding never holds the database for long. If the call
/// fails part-way, the grants already revoked stay revoked; calling again finishes.
#[utoipa::path(post, path = "/v1/grants/revoke", tag = "grants",
    request_body = crate::service::grant_list::BulkRevokeBody,
    responses((status = 200, description = "how many grants were revoked; every matching grant that was active when the call began is now revoked", body = crate::service::grant_list::BulkRevokeResult),
        (status = 409, description = "conflict: some matching grants kept changing and are still active (`details.remaining` names them, `details.revoked` counts those revoked); call again", body = ErrorBody)))]
pub async fn bulk_revoke(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::AdminGrants>,
    ApiJson(body): ApiJson<crate::service::grant_list::BulkRevokeBody>,
) -> Result<Json<crate::service::grant_list::BulkRevokeResult>> {
    Ok(Json(
        crate::service::grant_list::bulk_revoke(&state.services, &caller, body).await?,
    ))
}
