//! `/v1/schema` and `/v1/entities`: the tenant's Cedar schema and entity store.

use super::extract::{perm, ApiJson, ApiQuery, Auth};
use super::{config_written, AppState};
use crate::error::{Error, Result};
use crate::service::catalog;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaBody {
    /// Cedar schema text (the human-readable format).
    pub cedarschema: String,
}

/// The schema as a write stored it, with the consistency token of that write.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SchemaWritten {
    pub cedarschema: String,
    /// The validator's warnings about the stored policies' rules under this schema
    /// (`severity: "warning"`, `policy KEY: rule N: …`), for example a rule no request of
    /// the schema can match; they never refuse the write.
    pub notices: Vec<crate::service::lint::Warning>,
    /// The tenant's policy-set version once this write committed (also in the
    /// `X-Policy-Set-Version` header): send it as `min_policy_set_version` to have a
    /// decision made on this change or a later one, on any instance.
    pub policy_set_version: i64,
    /// The re-evaluation of active grants this write started (also the
    /// `X-Reevaluation-Id` header; `GET /v1/reevaluations/{id}`): it runs in the
    /// background after the write, under the tenant's `on_change` setting.
    pub reevaluation_id: i64,
}

/// The tenant's Cedar schema.
#[utoipa::path(get, path = "/v1/schema", tag = "schema",
    responses((status = 200, description = "the schema", body = SchemaBody)))]
pub async fn get_schema(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
) -> Result<Json<SchemaBody>> {
    Ok(Json(SchemaBody {
        cedarschema: catalog::get_schema(&state.services.store, caller.tenant_id).await?,
    }))
}

/// Replace the tenant's schema. Refused (400, naming what breaks in `notices`) when a stored
/// rule or entity would no longer validate, or when it drops the `request`/`extend` actions
/// or a `GrantContext` field grantd fills in.
#[utoipa::path(put, path = "/v1/schema", tag = "schema", request_body = SchemaBody,
    responses((status = 200, description = "stored", body = SchemaWritten,
        headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})")))))]
pub async fn put_schema(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    ApiJson(body): ApiJson<SchemaBody>,
) -> Result<Response> {
    let s = &state.services;
    let (revision, notices) =
        catalog::put_schema(&s.store, &caller, body.cedarschema.clone(), s.clock.now()).await?;
    let body = SchemaWritten {
        cedarschema: body.cedarschema,
        policy_set_version: revision,
        reevaluation_id: revision,
        notices,
    };
    Ok(config_written(Json(body).into_response(), revision))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Upserted {
    /// How many entities were inserted or replaced.
    pub upserted: usize,
    /// The tenant's policy-set version once this write committed (also in the
    /// `X-Policy-Set-Version` header).
    pub policy_set_version: i64,
    /// The re-evaluation of active grants this write started (also the
    /// `X-Reevaluation-Id` header; `GET /v1/reevaluations/{id}`): it runs in the
    /// background after the write, under the tenant's `on_change` setting.
    pub reevaluation_id: i64,
}

/// Insert or replace entities (Cedar JSON: `[{"uid": {"type", "id"}, "attrs": {}, "parents": [...]}]`,
/// at most 1000 per call), validated against the schema. One audit event per entity.
#[utoipa::path(put, path = "/v1/entities", tag = "entities",
    request_body(content = Vec<Object>, description = "Cedar JSON entities"),
    responses((status = 200, description = "stored", body = Upserted,
        headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})")))))]
pub async fn put_entities(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response> {
    let s = &state.services;
    let (n, revision) = catalog::put_entities(
        &s.store,
        caller.tenant_id,
        caller.actor(),
        body,
        s.clock.now(),
    )
    .await?;
    let body = Upserted {
        upserted: n,
        policy_set_version: revision,
        reevaluation_id: revision,
    };
    Ok(config_written(Json(body).into_response(), revision))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EntityQuery {
    /// Only entities of this type (e.g. `User`).
    #[serde(rename = "type")]
    pub etype: Option<String>,
    #[param(value_type = Option<u32>)]
    pub per_page: Option<String>,
    #[param(value_type = Option<u32>)]
    pub page: Option<String>,
    pub next_page_token: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EntityList {
    /// Cedar JSON entities in (type, id) order.
    pub items: Vec<Value>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
    pub next_page_token: Option<String>,
}

/// List entities, optionally of one type.
#[utoipa::path(get, path = "/v1/entities", tag = "entities", params(EntityQuery),
    responses((status = 200, description = "a page of entities", body = EntityList)))]
pub async fn list_entities(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::ReadPolicies>,
    ApiQuery(q): ApiQuery<EntityQuery>,
) -> Result<Json<EntityList>> {
    let s = &state.services;
    let scope = format!("entities:{}", q.etype.as_deref().unwrap_or(""));
    let page = s
        .cursors
        .page_request(
            caller.tenant_id,
            &scope,
            q.per_page.as_deref(),
            q.page.as_deref(),
            q.next_page_token.as_deref(),
        )
        .map_err(Error::invalid)?;
    let (items, total, next) =
        catalog::list_entities(&s.store, caller.tenant_id, q.etype.as_deref(), &page).await?;
    Ok(Json(EntityList {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
        next_page_token: next.map(|after| {
            s.cursors
                .encode(caller.tenant_id, &scope, &after, page.page + 1)
        }),
    }))
}

/// Delete one entity.
#[utoipa::path(delete, path = "/v1/entities/{type}/{id}", tag = "entities",
    params(("type" = String, Path, description = "entity type, e.g. User"),
           ("id" = String, Path, description = "entity id (URL-encoded)")),
    responses((status = 204, description = "deleted",
        headers(("X-Policy-Set-Version" = i64, description = "the tenant's policy_set_version once the write committed"),
            ("X-Reevaluation-Id" = i64, description = "the re-evaluation of active grants this write started (GET /v1/reevaluations/{id})")))))]
pub async fn delete_entity(
    State(state): State<AppState>,
    Auth(caller, _): Auth<perm::WritePolicies>,
    Path((etype, id)): Path<(String, String)>,
) -> Result<Response> {
    let s = &state.services;
    let revision = catalog::delete_entity(&s.store, &caller, &etype, &id, s.clock.now()).await?;
    Ok(config_written(
        StatusCode::NO_CONTENT.into_response(),
        revision,
    ))
}
