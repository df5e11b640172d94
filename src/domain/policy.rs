//! Policies and rules: their wire shapes, the invariants of their fields, and how a rule's
//! input becomes a stored rule. Cedar assembly itself is in `crate::cedar::assemble`.

use super::patch::Patch;
use super::rule::{policy_set_text, ActionScopeType, Effect, FieldError, RuleSpec, ScopeType};
use chrono::{DateTime, Utc};
use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const MAX_NAME: usize = 200;
pub const MAX_DESCRIPTION: usize = 4000;
pub const MAX_NOTICE: usize = 2000;
pub const MAX_CHANNEL: usize = 500;
/// Bytes of one rule's `conditions` (checked by `cedar::assemble`).
pub const MAX_CONDITIONS: usize = 20_000;
pub const MAX_RULES: usize = 200;

/// A stored rule, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rule {
    pub id: Uuid,
    pub ordinal: i64,
    pub effect: Effect,
    /// The assembled Cedar text of this rule.
    pub policy_text: String,
    pub principal_scope_type: ScopeType,
    pub principal_entity_type: Option<String>,
    pub principal_entity_id: Option<String>,
    pub action_scope_type: ActionScopeType,
    pub action_ids: Option<Vec<String>>,
    pub resource_scope_type: ScopeType,
    pub resource_entity_type: Option<String>,
    pub resource_entity_id: Option<String>,
    /// Raw Cedar `when {...}` / `unless {...}` clauses.
    pub conditions: Option<String>,
    /// A user-facing message shown when this rule determines a decision.
    pub notice: Option<String>,
    pub audit_session: bool,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
}

/// A stored policy, as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    pub id: Uuid,
    pub key: Option<String>,
    pub name: String,
    pub description: Option<String>,
    pub enabled: bool,
    pub priority: i64,
    pub max_duration_seconds: i64,
    pub default_duration_seconds: Option<i64>,
    pub notification_channel: Option<String>,
    /// Whether a grant this policy governs on a resource also passes the access checks of
    /// that resource's descendants (an app's entitlements). Without it, a grant covers
    /// exactly its own resource.
    #[serde(default)]
    pub covers_descendants: bool,
    /// Grants this policy governs wait for approval (PENDING_APPROVAL) before they become
    /// active; null: they are active at once (PREAPPROVED).
    #[serde(default)]
    pub approval: Option<super::grant::ApprovalRequirement>,
    pub rules: Vec<Rule>,
    /// The assembled Cedar text of all rules of this policy.
    pub cedar_policy_set: String,
    pub version: i64,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::clock::ts")]
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: DateTime<Utc>,
}

/// A rule as written by an author. Read-only fields (`policy_text`, `created_at`) may be
/// sent back and are ignored; `id` keeps an existing rule's id on PATCH.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleInput {
    /// Keeps this existing rule's id (PATCH); ignored on create.
    #[serde(default)]
    pub id: Option<Uuid>,
    /// Default: the rule's position in the list (0-based).
    #[serde(default)]
    pub ordinal: Option<i64>,
    pub effect: Effect,
    pub principal_scope_type: ScopeType,
    #[serde(default)]
    pub principal_entity_type: Option<String>,
    #[serde(default)]
    pub principal_entity_id: Option<String>,
    pub action_scope_type: ActionScopeType,
    #[serde(default)]
    pub action_ids: Option<Vec<String>>,
    pub resource_scope_type: ScopeType,
    #[serde(default)]
    pub resource_entity_type: Option<String>,
    #[serde(default)]
    pub resource_entity_id: Option<String>,
    #[serde(default)]
    pub conditions: Option<String>,
    #[serde(default)]
    pub notice: Option<String>,
    /// Default false.
    #[serde(default)]
    pub audit_session: Option<bool>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub policy_text: Option<IgnoredAny>,
    /// Read-only; ignored.
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub created_at: Option<IgnoredAny>,
}

/// `POST /v1/policies`. Read-only fields of a Policy may be present and are ignored.
#[derive(Debug, Clone, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyCreate {
    /// `^[a-z0-9][a-z0-9_.-]{0,63}$`, not UUID-shaped, unique per tenant.
    #[serde(default)]
    pub key: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Default 0. Chooses the governing policy of a grant; not an evaluation order.
    #[serde(default)]
    pub priority: Option<i64>,
    pub max_duration_seconds: i64,
    #[serde(default)]
    pub default_duration_seconds: Option<i64>,
    #[serde(default)]
    pub notification_channel: Option<String>,
    /// Default false: a grant covers exactly its own resource in `access/check`; true: also
    /// the resource's descendants (e.g. an app's entitlements).
    #[serde(default)]
    pub covers_descendants: Option<bool>,
    /// Default null: grants are active at once. With it, a permitted request whose governing
    /// policy is this one becomes a PENDING_APPROVAL grant of type APPROVAL_REQUIRED.
    #[serde(default)]
    pub approval: Option<super::grant::ApprovalRequirement>,
    #[serde(default)]
    pub rules: Vec<RuleInput>,
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub id: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<i64>, read_only)]
    pub version: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub cedar_policy_set: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub created_at: Option<IgnoredAny>,
    #[serde(default, skip_serializing)]
    #[schema(value_type = Option<String>, read_only)]
    pub updated_at: Option<IgnoredAny>,
}

/// `PATCH /v1/policies/{id}`: only the fields given change; `null` clears an optional
/// field; `rules`, when given, replaces the whole list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyPatch {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub key: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub name: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub enabled: Patch<bool>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub priority: Patch<i64>,
    /// Lowering it cuts every active grant the policy governs to `granted_at` + the new
    /// maximum (each with a `grant.update` event).
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub max_duration_seconds: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<i64>)]
    pub default_duration_seconds: Patch<i64>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub notification_channel: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<bool>)]
    pub covers_descendants: Patch<bool>,
    /// `null` removes the requirement (grants already pending keep theirs).
    #[serde(default)]
    #[schema(value_type = Option<super::grant::ApprovalRequirement>)]
    pub approval: Patch<super::grant::ApprovalRequirement>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<RuleInput>>)]
    pub rules: Patch<Vec<RuleInput>>,
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub id: Option<IgnoredAny>,
    #[serde(default)]
    #[schema(value_type = Option<i64>, read_only)]
    pub version: Option<IgnoredAny>,
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub cedar_policy_set: Option<IgnoredAny>,
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub created_at: Option<IgnoredAny>,
    #[serde(default)]
    #[schema(value_type = Option<String>, read_only)]
    pub updated_at: Option<IgnoredAny>,
}

/// The orders `GET /v1/policies` lists in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOrder {
    /// Creation (id) order, the default.
    Created,
    /// Highest priority first; ties oldest first (the order that picks a governing
    /// policy).
    PriorityDesc,
}

/// Where a page of policies starts: after the policy with this priority and id (the
/// priority is read in [`PolicyOrder::PriorityDesc`] only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PolicyAfter {
    pub priority: i64,
    pub id: uuid::Uuid,
}

/// How a path names a policy: by id, or by its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyRef {
    Id(Uuid),
    Key(String),
}

impl PolicyRef {
    pub fn parse(s: &str) -> Self {
        match Uuid::try_parse(s) {
            Ok(id) => PolicyRef::Id(id),
            Err(_) => PolicyRef::Key(s.to_string()),
        }
    }
}

/// `^[a-z0-9][a-z0-9_.-]{0,63}$` and not UUID-shaped (so a key never shadows an id).
pub fn check_key(key: &str) -> Result<(), String> {
    let bytes = key.as_bytes();
    let ok_first = bytes
        .first()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let ok_rest = bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(b));
    if !ok_first || !ok_rest || bytes.len() > 64 {
        return Err("key: must match ^[a-z0-9][a-z0-9_.-]{0,63}$".into());
    }
    if Uuid::try_parse(key).is_ok() {
        return Err("key: must not be shaped like a UUID".into());
    }
    Ok(())
}

fn check_text(
    errors: &mut Vec<FieldError>,
    field: &str,
    value: Option<&str>,
    max: usize,
    multiline: bool,
) {
    if let Some(v) = value {
        if v.chars().count() > max {
            errors.push(FieldError::new(field, format!("at most {max} characters")));
        }
        if v.chars()
            .any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r')))
        {
            errors.push(FieldError::new(field, "control characters are not allowed"));
        }
    }
}

/// The policy-level invariants. Rule scopes are checked by assembly.
pub fn check_policy_fields(p: &Policy) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if let Some(k) = &p.key {
        if let Err(m) = check_key(k) {
            errors.push(FieldError::new("key", m.trim_start_matches("key: ")));
        }
    }
    if p.name.trim().is_empty() {
        errors.push(FieldError::new("name", "must not be empty"));
    }
    check_text(&mut errors, "name", Some(&p.name), MAX_NAME, false);
    check_text(
        &mut errors,
        "description",
        p.description.as_deref(),
        MAX_DESCRIPTION,
        true,
    );
    check_text(
        &mut errors,
        "notification_channel",
        p.notification_channel.as_deref(),
        MAX_CHANNEL,
        false,
    );
    if p.max_duration_seconds <= 0 {
        errors.push(FieldError::new(
            "max_duration_seconds",
            "must be greater than 0",
        ));
    } else if p.max_duration_seconds > super::grant::MAX_DURATION_SECONDS {
        errors.push(FieldError::new(
            "max_duration_seconds",
            format!("at most {} (100 years)", super::grant::MAX_DURATION_SECONDS),
        ));
    }
    if let Some(d) = p.default_duration_seconds {
        if d <= 0 {
            errors.push(FieldError::new(
                "default_duration_seconds",
                "must be greater than 0",
            ));
        } else if d > p.max_duration_seconds {
            errors.push(FieldError::new(
                "default_duration_seconds",
                "must not exceed max_duration_seconds",
            ));
        }
    }
    if let Some(a) = &p.approval {
        for (field, msg) in a.check("approval") {
            errors.push(FieldError::new(&field, msg));
        }
    }
    if p.rules.len() > MAX_RULES {
        errors.push(FieldError::new(
            "rules",
            format!("at most {MAX_RULES} rules"),
        ));
    }
    errors
}

/// Field checks of one rule input that assembly does not do (the notice's length and
/// characters; `conditions` are bounded by assembly, before Cedar parses them).
pub fn check_rule_text(prefix: &str, r: &RuleInput) -> Vec<FieldError> {
    let mut errors = Vec::new();
    check_text(
        &mut errors,
        &format!("{prefix}.notice"),
        r.notice.as_deref(),
        MAX_NOTICE,
        true,
    );
    errors
}

impl RuleInput {
    pub fn spec(&self, rule_id: Uuid) -> RuleSpec {
        RuleSpec {
            rule_id: rule_id.to_string(),
            effect: self.effect,
            principal_scope_type: self.principal_scope_type,
            principal_entity_type: self.principal_entity_type.clone(),
            principal_entity_id: self.principal_entity_id.clone(),
            action_scope_type: self.action_scope_type,
            action_ids: self.action_ids.clone(),
            resource_scope_type: self.resource_scope_type,
            resource_entity_type: self.resource_entity_type.clone(),
            resource_entity_id: self.resource_entity_id.clone(),
            conditions: self.conditions.clone(),
        }
    }
}

impl Rule {
    /// The rule as an author would write it again (no read-only fields): the export format.
    pub fn to_input(&self) -> RuleInput {
        RuleInput {
            id: None,
            ordinal: Some(self.ordinal),
            effect: self.effect,
            principal_scope_type: self.principal_scope_type,
            principal_entity_type: self.principal_entity_type.clone(),
            principal_entity_id: self.principal_entity_id.clone(),
            action_scope_type: self.action_scope_type,
            action_ids: self.action_ids.clone(),
            resource_scope_type: self.resource_scope_type,
            resource_entity_type: self.resource_entity_type.clone(),
            resource_entity_id: self.resource_entity_id.clone(),
            conditions: self.conditions.clone(),
            notice: self.notice.clone(),
            audit_session: Some(self.audit_session),
            policy_text: None,
            created_at: None,
        }
    }
}

impl Policy {
    /// The Cedar text of this policy's rules, in ordinal order: its `cedar_policy_set`.
    pub fn rules_text(&self) -> String {
        let texts: Vec<&str> = self.rules.iter().map(|r| r.policy_text.as_str()).collect();
        policy_set_text(&texts)
    }

    /// The policy as a `POST /v1/policies` body: the `policies/` file format.
    pub fn to_create(&self) -> PolicyCreate {
        PolicyCreate {
            key: self.key.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            enabled: Some(self.enabled),
            priority: Some(self.priority),
            max_duration_seconds: self.max_duration_seconds,
            default_duration_seconds: self.default_duration_seconds,
            notification_channel: self.notification_channel.clone(),
            covers_descendants: Some(self.covers_descendants),
            approval: self.approval.clone(),
            rules: self.rules.iter().map(Rule::to_input).collect(),
            id: None,
            version: None,
            cedar_policy_set: None,
            created_at: None,
            updated_at: None,
        }
    }
}

/// The Cedar text of a tenant's compiled set: the rules of its enabled policies, policies in
/// creation (id) order, rules in ordinal order. Stored per version and compiled by the
/// engine from the same function, so the two cannot disagree.
pub fn compiled_text(policies: &[Policy]) -> String {
    let mut enabled: Vec<&Policy> = policies.iter().filter(|p| p.enabled).collect();
    enabled.sort_by_key(|p| p.id);
    let texts: Vec<&str> = enabled
        .iter()
        .flat_map(|p| p.rules.iter().map(|r| r.policy_text.as_str()))
        .collect();
    policy_set_text(&texts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_pattern() {
        for good in ["a", "eng-read", "prod.admin_1", "0abc", &"a".repeat(64)] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "-a",
            "_a",
            "A",
            "a b",
            "a/b",
            "é",
            &"a".repeat(65),
            "0190a5e0-0000-7000-8000-000000000001",
            "0190a5e000007000800000000000000f",
        ] {
            assert!(check_key(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn policy_ref_parses_ids_and_keys() {
        assert_eq!(
            PolicyRef::parse("0190a5e0-0000-7000-8000-000000000001"),
            PolicyRef::Id("0190a5e0-0000-7000-8000-000000000001".parse().unwrap())
        );
        assert_eq!(PolicyRef::parse("eng"), PolicyRef::Key("eng".into()));
    }

    fn policy(max: i64, default: Option<i64>) -> Policy {
        let now = Utc::now();
        Policy {
            id: Uuid::now_v7(),
            key: None,
            name: "p".into(),
            description: None,
            enabled: true,
            priority: 0,
            max_duration_seconds: max,
            default_duration_seconds: default,
            notification_channel: None,
            covers_descendants: false,
            approval: None,
            rules: vec![],
            cedar_policy_set: String::new(),
            version: 1,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn duration_invariants_name_the_field() {
        assert!(check_policy_fields(&policy(10, Some(10))).is_empty());
        let fields = |p: &Policy| -> Vec<String> {
            check_policy_fields(p)
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(&policy(0, None)), ["max_duration_seconds"]);
        assert_eq!(fields(&policy(10, Some(0))), ["default_duration_seconds"]);
        assert_eq!(fields(&policy(10, Some(11))), ["default_duration_seconds"]);
        let mut p = policy(10, None);
        p.name = " ".into();
        assert_eq!(fields(&p), ["name"]);
    }

    #[test]
    fn read_only_fields_are_accepted_and_unknown_fields_are_not() {
        let body = r#"{"id": "x", "version": 3, "cedar_policy_set": "", "created_at": "t",
            "updated_at": "t", "name": "n", "max_duration_seconds": 5, "rules": [
            {"id": null, "policy_text": "permit", "created_at": "t", "effect": "permit",
             "principal_scope_type": "any", "action_scope_type": "any", "resource_scope_type": "any"}]}"#;
        let p: PolicyCreate = serde_json::from_str(body).unwrap();
        assert_eq!(p.rules.len(), 1);
        assert!(serde_json::from_str::<PolicyCreate>(
            r#"{"name": "n", "max_duration_seconds": 5, "nmae": 1}"#
        )
        .is_err());
        let patch: PolicyPatch =
            serde_json::from_str(r#"{"description": null, "version": 3}"#).unwrap();
        assert_eq!(patch.description, Patch::Null);
        assert_eq!(patch.name, Patch::Absent);
    }
}
