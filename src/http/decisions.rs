//! `/v1/authorize`, `/v1/authorize/batch` and `/v1/policy-set-versions/{version}`.

use super::extract::{perm, ApiJson, Auth};
use super::AppState;
use crate::clock::ts;
use crate::domain::decision::{AuthorizeRequest, BatchBody, BatchRequest, DecisionBody};
use crate::error::{Error, Result};
use crate::service::decisions;
use axum::extract::{Path, State};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Decide one request with the tenant's enabled rules. `forbid` wins; a `forbid` rule that
/// errors denies (`deny_reason: "error"`). The decision's audit event is durable before the
/// answer is sent. The context nests at most 32 levels with strings of at most 4,096
/// characters; request-scoped `entities`: at most 100, each nesting at most 32 levels with
/// strings of at most 4,096 characters, ancestor chains (stored ancestors included) at most
/// 32 long.
#[utoipa::path(post, path = "/v1/authorize", tag = "decisions", params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins")),
    request_body = AuthorizeRequest,
    responses((status = 200, description = "the decision", body = DecisionBody),
        (status = 400, description = "invalid_input: the request does not match the schema, or breaks a limit", body = crate::error::ErrorBody),
        (status = 500, description = "policy_set_invalid: the tenant's stored configuration cannot be compiled (decisions fail closed until it is fixed)", body = crate::error::ErrorBody),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody)))]
pub async fn authorize(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::Authorize>,
    ApiJson(body): ApiJson<AuthorizeRequest>,
) -> Result<Json<DecisionBody>> {
    Ok(Json(
        decisions::authorize(&state.services, &caller, body).await?,
    ))
}

/// Decide up to 100 requests, answered in order, each audited. At most 1,000
/// request-scoped entities over the whole batch, brought by at most 10 of its requests
/// (and the limits of `/v1/authorize` per request).
#[utoipa::path(post, path = "/v1/authorize/batch", tag = "decisions", params(("X-Min-Policy-Set-Version" = Option<String>, Header, description = "an integer: decide on this policy_set_version or a newer one (a consistency token from a write); the body field min_policy_set_version is the same, the larger wins")),
    request_body = BatchRequest,
    responses((status = 200, description = "the decisions, in request order", body = BatchBody),
        (status = 503, description = "stale: the tenant's policy set did not reach min_policy_set_version within 1 s (or unavailable)", body = crate::error::ErrorBody)))]
pub async fn authorize_batch(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::Authorize>,
    ApiJson(body): ApiJson<BatchRequest>,
) -> Result<Json<BatchBody>> {
    // Every request in the batch counts against the quota: the extractor charged one,
    // this the rest (a batch over the limit is refused below, charged as the largest).
    let n = body.requests.len().min(crate::domain::decision::MAX_BATCH);
    let quota = &state.services.quotas;
    quota
        .admit_count(
            &caller,
            crate::service::quotas::Class::Decisions,
            n.saturating_sub(1),
        )
        .await?;
    Ok(Json(BatchBody {
        results: decisions::authorize_batch(
            &state.services,
            &caller,
            body.requests,
            body.min_policy_set_version,
        )
        .await?,
    }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct PolicySetVersionBody {
    pub version: i64,
    /// The exact Cedar text of the enabled rules that decided at this version.
    pub cedar_policy_set: String,
    /// When this text came into force.
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// The compiled policy set of a version, as it was; stays retrievable after later edits.
#[utoipa::path(get, path = "/v1/policy-set-versions/{version}", tag = "decisions",
    params(("version" = i64, Path, description = "a policy_set_version from a decision or audit event")),
    responses((status = 200, description = "the policy set", body = PolicySetVersionBody)))]
pub async fn policy_set_version(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
    Path(version): Path<String>,
) -> Result<Json<PolicySetVersionBody>> {
    let not_found = || Error::not_found("no such policy-set version");
    let version: i64 = version.parse().map_err(|_| not_found())?;
    let v = state
        .services
        .store
        .policy_set_version(caller.tenant_id, version)
        .await?
        .ok_or_else(not_found)?;
    Ok(Json(PolicySetVersionBody {
        version: v.version,
        cedar_policy_set: v.text,
        created_at: v.created_at,
    }))
}
