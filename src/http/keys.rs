//! `/v1/keys`: admin-only key management.

use super::extract::{perm, ApiJson, Auth};
use super::{with_policy_set_version, AppState};
use crate::clock::ts;
use crate::domain::role::Role;
use crate::error::{Error, Result};
use crate::service::keys;
use crate::store::KeyRecord;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKey {
    pub role: Role,
    /// A label for people, at most 200 characters.
    #[serde(default)]
    pub name: Option<String>,
}

/// A new key. `key` is shown here once and never again.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedKey {
    pub id: Uuid,
    pub role: Role,
    pub name: Option<String>,
    pub key: String,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    /// The tenant's policy-set version when the key was created (also in the
    /// `X-Policy-Set-Version` header). Keys are not part of the policy set: a new key works
    /// on every instance at once, and a revoked one fails on every instance within the
    /// coherence bound (README, "Running several instances").
    pub policy_set_version: i64,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyInfo {
    pub id: Uuid,
    pub role: Role,
    pub name: Option<String>,
    #[serde(with = "ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "ts::option")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<KeyRecord> for KeyInfo {
    fn from(k: KeyRecord) -> Self {
        KeyInfo {
            id: k.id.0,
            role: k.role,
            name: k.name,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct KeyList {
    /// The tenant's keys, oldest first, revoked ones included; never their secrets.
    pub items: Vec<KeyInfo>,
}

/// Create an API key for this tenant.
#[utoipa::path(post, path = "/v1/keys", tag = "keys", request_body = CreateKey,
    responses((status = 201, description = "created; the key is shown only here", body = CreatedKey,
        headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version")))))]
pub async fn create_key(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageKeys>,
    ApiJson(body): ApiJson<CreateKey>,
) -> Result<Response> {
    let s = &state.services;
    // read first: once the key exists, nothing may fail its answer (the secret is shown
    // only there); key writes do not move the revision, so the token stays good
    let revision = s.store.revision(caller.tenant_id).await?;
    let (rec, plaintext) = keys::create(
        &s.store,
        caller.tenant_id,
        caller.actor(),
        body.role,
        body.name,
        s.clock.now(),
    )
    .await?;
    let body = CreatedKey {
        id: rec.id.0,
        role: rec.role,
        name: rec.name,
        key: plaintext,
        created_at: rec.created_at,
        policy_set_version: revision,
    };
    Ok(with_policy_set_version(
        (StatusCode::CREATED, Json(body)).into_response(),
        revision,
    ))
}

/// List this tenant's keys (without secrets).
#[utoipa::path(get, path = "/v1/keys", tag = "keys",
    responses((status = 200, description = "the tenant's keys", body = KeyList)))]
pub async fn list_keys(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageKeys>,
) -> Result<Json<KeyList>> {
    let keys = state.services.store.list_keys(caller.tenant_id).await?;
    Ok(Json(KeyList {
        items: keys.into_iter().map(KeyInfo::from).collect(),
    }))
}

/// Revoke a key: it fails on the very next request. Revoking a revoked key is a no-op.
#[utoipa::path(delete, path = "/v1/keys/{id}", tag = "keys",
    params(("id" = Uuid, Path, description = "key id")),
    responses((status = 204, description = "revoked",
        headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version")))))]
pub async fn revoke_key(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ManageKeys>,
    Path(id): Path<String>,
) -> Result<Response> {
    let id = id.parse().map_err(|_| Error::not_found("no such key"))?;
    let s = &state.services;
    let revision = s.store.revision(caller.tenant_id).await?;
    keys::revoke(
        &s.store,
        caller.tenant_id,
        caller.actor(),
        id,
        s.clock.now(),
    )
    .await?;
    Ok(with_policy_set_version(
        StatusCode::NO_CONTENT.into_response(),
        revision,
    ))
}
