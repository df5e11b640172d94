//! The shapes of authorization requests and decisions.

use super::audit::Determining;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A Cedar entity reference `{"type": "User", "id": "alice"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityRef {
    #[serde(rename = "type")]
    pub etype: String,
    pub id: String,
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
}

#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most 100; answered in order.
    pub requests: Vec<AuthorizeRequest>,
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
