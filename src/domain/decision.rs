//! The shapes of authorization requests and decisions.

use super::audit::Determining;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Cedar entity reference `{"type": "User", "id": "alice"}`. Deserializing checks the
/// name's limits ([`check_entity_name`]), so no request names an entity that
/// a backend could not store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "RawEntityRef")]
pub struct EntityRef {
    /// The entity type name: at most 256 bytes, no NUL character.
    #[serde(rename = "type")]
    pub etype: String,
    /// At most 1,024 bytes, no NUL character.
    pub id: String,
}

/// Bytes of an entity id, and of an entity type name, where an entity is named: in a
/// request's principal, action or resource, and in a stored entity's `uid`. Ids are
/// stored and indexed (grants by holder, the audit log by subject), and every backend must
/// take what one takes: PostgreSQL's index entries hold at most 2,704 bytes.
pub const MAX_ENTITY_ID_BYTES: usize = 1_024;
pub const MAX_ENTITY_TYPE_BYTES: usize = 256;

/// An entity's type and id are within [`MAX_ENTITY_TYPE_BYTES`] and [`MAX_ENTITY_ID_BYTES`]
/// and hold no NUL character (which no database stores as text).
pub fn check_entity_name(etype: &str, id: &str) -> Result<(), String> {
    if etype.len() > MAX_ENTITY_TYPE_BYTES {
        return Err(format!(
            "an entity type name has {} bytes; the limit is {MAX_ENTITY_TYPE_BYTES}",
            etype.len()
        ));
    }
    if id.len() > MAX_ENTITY_ID_BYTES {
        return Err(format!(
            "an entity id has {} bytes; the limit is {MAX_ENTITY_ID_BYTES}",
            id.len()
        ));
    }
    if etype.contains('\0') || id.contains('\0') {
        return Err("an entity type or id contains a NUL character".into());
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntityRef {
    #[serde(rename = "type")]
    etype: String,
    id: String,
}

impl TryFrom<RawEntityRef> for EntityRef {
    type Error = String;
    fn try_from(r: RawEntityRef) -> Result<Self, String> {
        check_entity_name(&r.etype, &r.id)?;
        Ok(EntityRef {
            etype: r.etype,
            id: r.id,
        })
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    pub principal: EntityRef,
    /// e.g. `{"type": "Action", "id": "request"}`
    pub action: EntityRef,
    pub resource: EntityRef,
    /// Validated against the action's context type in the schema.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Entities for this call only (Cedar JSON); they may add entities the store lacks but
    /// not name a stored one.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Vec<Value>>,
    /// Decide on this policy-set version or a newer one (a consistency token: the
    /// `policy_set_version` a write answered with; also `X-Min-Policy-Set-Version`, the
    /// larger of the two wins). `503 stale` if the tenant's set does not reach it within a
    /// second. Not part of the request recorded or fingerprinted.
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 100; answered in order.
    pub requests: Vec<AuthorizeRequest>,
    /// For the whole batch (every request's own is honoured too; the largest wins).
    #[serde(default, skip_serializing)]
    pub min_policy_set_version: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct DecisionBody {
    /// `allow` or `deny`.
    pub decision: String,
    /// `forbid`, `no_permit` or `error`; null when allowed.
    pub deny_reason: Option<String>,
    /// The rules that determined the decision, by policy priority then rule ordinal.
    pub determining: Vec<Determining>,
    /// The non-empty notices of the determining rules, in the same order.
    pub notices: Vec<String>,
    /// Evaluation errors (an erroring `forbid` denies; an erroring `permit` does not allow).
    pub errors: Vec<String>,
    /// The compiled policy set that decided (`GET /v1/policy-set-versions/{version}`).
    pub policy_set_version: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BatchBody {
    pub results: Vec<DecisionBody>,
}

pub const MAX_BATCH: usize = 100;
