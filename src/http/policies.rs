//! `/v1/policies`: authoring policies of rules. Responses carry `ETag: "<version>"`;
//! `If-Match` is honoured on PATCH and DELETE.

use super::extract::{if_match, perm, ApiJson, ApiQuery, Auth};
use super::{config_written, etag, AppState};
use crate::domain::policy::{Policy, PolicyCreate, PolicyOrder, PolicyPatch, PolicyRef};
use crate::error::{Error, Result};
use crate::service::policies;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

/// The list's parameters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// `CREATED_AT_ASC` (the default: creation order) or `PRIORITY_DESC` (highest priority
    /// first, ties oldest first: the order in which a governing policy is chosen). Any
    /// other value → 400. A `next_page_token` belongs to the order it was issued in.
    pub sort_order: Option<String>,
    /// 1..=100, default 25.
    #[param(value_type = Option<u32>)]
    pub per_page: Option<String>,
    /// 1-based page number (ignored when `next_page_token` is given).
    #[param(value_type = Option<u32>)]
    pub page: Option<String>,
    /// Opaque cursor from the previous response.
    pub next_page_token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyList {
    pub items: Vec<Policy>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    pub next_page_token: Option<String>,
}

const SCOPE: &str = "policies";
const SCOPE_BY_PRIORITY: &str = "policies:priority";

fn with_etag(status: StatusCode, p: Policy) -> Response {
    (status, [(header::ETAG, etag(p.version))], Json(p)).into_response()
}

/// A policy as a write left it, with the consistency token of that write.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicyWritten {
    #[serde(flatten)]
    pub policy: Policy,
    /// The tenant's policy-set version once this write committed (also in the
    /// `X-Policy-Set-Version` header): send it as `min_policy_set_version` to have a
    /// decision made on this change or a later one, on any instance.
    pub policy_set_version: i64,
    /// Lints of the policy's rules (`severity: "warning"`; they never refuse a write): a
    /// rule no request of the schema can match, a rule duplicating another enabled rule, a
    /// permit an unconditional forbid of the same or a wider scope always overrides.
    pub notices: Vec<crate::service::lint::Warning>,
    /// The re-evaluation of active grants this write started (also the
    /// `X-Reevaluation-Id` header; `GET /v1/reevaluations/{id}`): it runs in the
    /// background after the write, under the tenant's `on_change` setting.
    pub reevaluation_id: i64,
}

fn written(status: StatusCode, w: policies::Written) -> Response {
    let etag = etag(w.policy.version);
    let revision = w.revision;
    let body = PolicyWritten {
        policy: w.policy,
        policy_set_version: revision,
        notices: w.warnings,
        reevaluation_id: revision,
    };
    config_written(
        (status, [(header::ETAG, etag)], Json(body)).into_response(),
        revision,
    )
}

/// Create a policy. Its rules are assembled into Cedar and validated against the tenant's
/// schema before anything is stored; on failure every diagnostic is in `notices`.
#[utoipa::path(post, path = "/v1/policies", tag = "policies", request_body = PolicyCreate,
    responses(
        (status = 201, description = "created", body = PolicyWritten, headers(("ETag" = String, description = "\"<version>\""),
            ("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})"))),
        (status = 409, description = "conflict: the key is already used", body = crate::error::ErrorBody),
    ))]
pub async fn create_policy(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    ApiJson(body): ApiJson<PolicyCreate>,
) -> Result<Response> {
    let s = &state.services;
    let written_at = policies::create(&s.store, &caller, body, s.clock.now()).await?;
    Ok(written(StatusCode::CREATED, written_at))
}

/// Run policy test cases against the tenant's stored policy set: each case a request and
/// the decision expected of it (optionally its deny reason and the keys of the policies
/// that determine it), decided as `POST /v1/authorize` decides, without recording
/// anything. The same cases as the files `grantd policy test DIR` runs offline. With
/// `change`, against the set that configuration write would produce. A run decides for at
/// most 10 s; cases not reached by then fail (`failure: "not run: …"`).
#[utoipa::path(post, path = "/v1/policies/test", tag = "policies",
    request_body = crate::service::policy_tests::TestBody,
    responses(
        (status = 200, description = "every case's result (a failing case is not an error)", body = crate::service::policy_tests::Report),
        (status = 400, description = "invalid_input: more than 1,000 cases, an unknown decision or deny_reason, or request-scoped entities over the limits", body = crate::error::ErrorBody),
    ))]
pub async fn test_policies(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    ApiJson(body): ApiJson<crate::service::policy_tests::TestBody>,
) -> Result<Json<crate::service::policy_tests::Report>> {
    // Each case is a decision: charged to the decisions budget (the call itself was
    // charged one token of the other).
    let n = body
        .cases
        .len()
        .min(crate::service::policy_tests::MAX_CASES);
    let quota = &state.services.quotas;
    quota
        .admit_count(&caller, crate::service::quotas::Class::Decisions, n)
        .await?;
    Ok(Json(
        crate::service::policy_tests::test_stored(&state.services, &caller, body).await?,
    ))
}

/// The policy keyed `test`: `/v1/policies/test` is also its path, so GET, PATCH and
/// DELETE there reach it (POST runs policy tests), as `/v1/policies/{id}` would.
#[utoipa::path(get, path = "/v1/policies/test", tag = "policies",
    responses((status = 200, description = "the policy keyed `test`", body = Policy, headers(("ETag" = String)))))]
pub async fn get_policy_keyed_test(
    state: State<AppState>,
    auth: Auth<perm::ReadPolicies>,
) -> Result<Response> {
    get_policy(state, auth, Path("test".into())).await
}

/// Change the policy keyed `test` (as `PATCH /v1/policies/{id}`).
#[utoipa::path(patch, path = "/v1/policies/test", tag = "policies", request_body = PolicyPatch,
    params(("If-Match" = Option<String>, Header, description = "the version the change is based on")),
    responses((status = 200, description = "updated", body = PolicyWritten, headers(("ETag" = String),
        ("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})")))))]
pub async fn patch_policy_keyed_test(
    state: State<AppState>,
    auth: Auth<perm::WritePolicies>,
    headers: HeaderMap,
    body: ApiJson<PolicyPatch>,
) -> Result<Response> {
    patch_policy(state, auth, Path("test".into()), headers, body).await
}

/// Delete the policy keyed `test` (as `DELETE /v1/policies/{id}`).
#[utoipa::path(delete, path = "/v1/policies/test", tag = "policies",
    params(("If-Match" = Option<String>, Header, description = "the version the change is based on")),
    responses((status = 204, description = "deleted", headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})")))))]
pub async fn delete_policy_keyed_test(
    state: State<AppState>,
    auth: Auth<perm::WritePolicies>,
    headers: HeaderMap,
) -> Result<Response> {
    delete_policy(state, auth, Path("test".into()), headers).await
}

/// List policies, in creation order or by priority (`sort_order`).
#[utoipa::path(get, path = "/v1/policies", tag = "policies", params(PageQuery),
    responses((status = 200, description = "a page of policies", body = PolicyList)))]
pub async fn list_policies(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<PolicyList>> {
    let s = &state.services;
    let (order, scope) = match q.sort_order.as_deref() {
        None | Some("CREATED_AT_ASC") => (PolicyOrder::Created, SCOPE),
        Some("PRIORITY_DESC") => (PolicyOrder::PriorityDesc, SCOPE_BY_PRIORITY),
        Some(_) => {
            return Err(Error::invalid(
                "sort_order: must be CREATED_AT_ASC or PRIORITY_DESC",
            ))
        }
    };
    let page = s
        .cursors
        .page_request(
            caller.tenant_id,
            scope,
            q.per_page.as_deref(),
            q.page.as_deref(),
            q.next_page_token.as_deref(),
        )
        .map_err(Error::invalid)?;
    let (items, total, more) = policies::list(&s.store, caller.tenant_id, order, &page).await?;
    let next_page_token = more.then(|| items.last()).flatten().map(|p| {
        s.cursors.encode(
            caller.tenant_id,
            scope,
            &policies::cursor(order, p),
            page.page + 1,
        )
    });
    Ok(Json(PolicyList {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
        next_page_token,
    }))
}

/// Read a policy by id or key.
#[utoipa::path(get, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "policy id or key")),
    responses((status = 200, description = "the policy", body = Policy, headers(("ETag" = String)))))]
pub async fn get_policy(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
    Path(id): Path<String>,
) -> Result<Response> {
    let p = policies::get(
        &state.services.store,
        caller.tenant_id,
        &PolicyRef::parse(&id),
    )
    .await?;
    Ok(with_etag(StatusCode::OK, p))
}

/// Update the given fields of a policy; `rules`, when given, replaces the list (a rule sent
/// with its `id` keeps it); `null` clears an optional field. Read-only fields sent back are
/// ignored. A lower `max_duration_seconds` cuts every active grant the policy governs to
/// `granted_at` + the new maximum, in the same write, each with a `grant.update` event.
#[utoipa::path(patch, path = "/v1/policies/{id}", tag = "policies", request_body = PolicyPatch,
    params(("id" = String, Path, description = "policy id or key"),
           ("If-Match" = Option<String>, Header, description = "the version the change is based on")),
    responses(
        (status = 200, description = "updated", body = PolicyWritten, headers(("ETag" = String),
            ("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})"))),
        (status = 409, description = "conflict: stale If-Match or duplicate key", body = crate::error::ErrorBody),
    ))]
pub async fn patch_policy(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PolicyPatch>,
) -> Result<Response> {
    let s = &state.services;
    let expected = if_match(&headers)?;
    let written_at = policies::patch(
        &s.store,
        &caller,
        &PolicyRef::parse(&id),
        body,
        expected,
        s.clock.now(),
    )
    .await?;
    Ok(written(StatusCode::OK, written_at))
}

/// Delete a policy. 409 while active grants are governed by it (disable it instead).
#[utoipa::path(delete, path = "/v1/policies/{id}", tag = "policies",
    params(("id" = String, Path, description = "policy id or key"),
           ("If-Match" = Option<String>, Header, description = "the version the change is based on")),
    responses(
        (status = 204, description = "deleted", headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})"))),
        (status = 409, description = "conflict: stale If-Match", body = crate::error::ErrorBody),
    ))]
pub async fn delete_policy(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response> {
    let s = &state.services;
    let expected = if_match(&headers)?;
    let revision = policies::delete(
        &s.store,
        &caller,
        &PolicyRef::parse(&id),
        expected,
        s.clock.now(),
    )
    .await?;
    Ok(config_written(
        StatusCode::NO_CONTENT.into_response(),
        revision,
    ))
}
