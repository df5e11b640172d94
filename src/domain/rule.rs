//! A rule as a policy author states it: its effect, its scope and its conditions — domain
//! types, which `crate::cedar::assemble` turns into Cedar text.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    Permit,
    Forbid,
}

impl Effect {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Permit => "permit",
            Self::Forbid => "forbid",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeType {
    Any,
    Eq,
    In,
    Is,
    IsIn,
}

impl ScopeType {
    /// The wire spelling, so messages quote exactly what the author sent.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Eq => "eq",
            Self::In => "in",
            Self::Is => "is",
            Self::IsIn => "is_in",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionScopeType {
    Any,
    Eq,
    In,
}

impl ActionScopeType {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::Eq => "eq",
            Self::In => "in",
        }
    }
}

/// One rule as submitted by a policy author, plus the id we assigned to it.
///
/// Optional fields are "present" exactly when they are `Some`, even if the
/// string inside is empty: `""` is a legal Cedar entity id, so emptiness
/// cannot mean absence for ids, and type names follow the same rule for
/// consistency. `action_ids` is the exception: an empty list counts as absent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSpec {
    /// Our UUID for the rule; it becomes the Cedar `PolicyId`.
    pub rule_id: String,
    pub effect: Effect,
    pub principal_scope_type: ScopeType,
    pub principal_entity_type: Option<String>,
    pub principal_entity_id: Option<String>,
    pub action_scope_type: ActionScopeType,
    pub action_ids: Option<Vec<String>>,
    pub resource_scope_type: ScopeType,
    pub resource_entity_type: Option<String>,
    pub resource_entity_id: Option<String>,
    pub conditions: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for FieldError {}

/// Joins rule texts into one policy-set text.
///
/// Re-parsing this text with `PolicySet::from_str` assigns positional ids
/// (`policy0`, ...), not rule ids; it is meant for display and export, while
/// evaluation should build the set from the individually parsed policies.
#[must_use]
pub fn policy_set_text(rules: &[&str]) -> String {
    rules.join("\n\n")
}
