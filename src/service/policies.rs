//! Policy authoring: build a policy from an author's input, assemble every rule into Cedar,
//! validate the rules against the tenant's schema, and only then store it — with its audit
//! event, in one transaction, against the configuration revision it was validated with.

use super::Caller;
use crate::cedar::assemble::{assemble_rule, AssembledRule, FieldError};
use crate::cedar::validate::{check_rules, format_diagnostic, Diagnostic};
use crate::domain::audit::{EventKind, NewEvent, Subject};
use crate::domain::ids::TenantId;
use crate::domain::page::PageRequest;
use crate::domain::policy::{
    check_policy_fields, check_rule_text, Policy, PolicyAfter, PolicyCreate, PolicyOrder,
    PolicyPatch, PolicyRef, Rule, RuleInput,
};
use crate::error::{Error, Result};
use crate::store::{DynStore, WriteOutcome};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// How often a write re-validates when the tenant's configuration moved under it.
pub const MAX_ATTEMPTS: usize = 8;

pub fn stale_error() -> Error {
    Error::Conflict(
        "the tenant's configuration kept changing while this write was validated; retry".into(),
    )
}

/// A 400 listing every field problem and Cedar diagnostic.
pub fn invalid(what: &str, fields: Vec<FieldError>, diagnostics: Vec<String>) -> Error {
    let mut notices: Vec<String> = fields.iter().map(ToString::to_string).collect();
    notices.extend(diagnostics);
    let first = notices.first().cloned().unwrap_or_default();
    let more = if notices.len() > 1 {
        format!(" (and {} more; see notices)", notices.len() - 1)
    } else {
        String::new()
    };
    Error::InvalidInput {
        message: format!("invalid {what}: {first}{more}"),
        details: (!fields.is_empty()).then(|| json!({ "fields": fields })),
        notices,
    }
}

/// Builds the rules of a policy from input. With `existing`, a rule sent with the `id` of
/// one of those rules keeps that id (and its `created_at`); any other id is refused.
pub fn build_rules(
    inputs: &[RuleInput],
    existing: Option<&[Rule]>,
    now: DateTime<Utc>,
) -> (Vec<Rule>, Vec<AssembledRule>, Vec<FieldError>) {
    let known: HashMap<Uuid, &Rule> = existing
        .unwrap_or_default()
        .iter()
        .map(|r| (r.id, r))
        .collect();
    let mut seen = HashSet::new();
    let mut rules = Vec::new();
    let mut assembled = Vec::new();
    let mut errors = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let prefix = format!("rules[{i}]");
        let (id, created_at) = match (existing, input.id) {
            (Some(_), Some(id)) => match known.get(&id) {
                Some(r) if seen.insert(id) => (id, r.created_at),
                Some(_) => {
                    errors.push(FieldError::new(format!("{prefix}.id"), "appears twice"));
                    (Uuid::now_v7(), now)
                }
                None => {
                    errors.push(FieldError::new(
                        format!("{prefix}.id"),
                        "is not a rule of this policy (omit it for a new rule)",
                    ));
                    (Uuid::now_v7(), now)
                }
            },
            _ => (Uuid::now_v7(), now),
        };
        errors.extend(check_rule_text(&prefix, input));
        match assemble_rule(&input.spec(id)) {
            Ok(a) => {
                rules.push(Rule {
                    id,
                    ordinal: input.ordinal.unwrap_or(i as i64),
                    effect: input.effect,
                    policy_text: a.text.clone(),
                    principal_scope_type: input.principal_scope_type,
                    principal_entity_type: input.principal_entity_type.clone(),
                    principal_entity_id: input.principal_entity_id.clone(),
                    action_scope_type: input.action_scope_type,
                    action_ids: input.action_ids.clone().filter(|a| !a.is_empty()),
                    resource_scope_type: input.resource_scope_type,
                    resource_entity_type: input.resource_entity_type.clone(),
                    resource_entity_id: input.resource_entity_id.clone(),
                    conditions: input.conditions.clone().filter(|c| !c.trim().is_empty()),
                    notice: input.notice.clone().filter(|n| !n.trim().is_empty()),
                    audit_session: input.audit_session.unwrap_or(false),
                    created_at,
                });
                assembled.push(a);
            }
            Err(errs) => errors.extend(
                errs.into_iter()
                    .map(|e| FieldError::new(format!("{prefix}.{}", e.field), e.message)),
            ),
        }
    }
    // Rules are kept in ordinal order (stable for equal ordinals).
    let mut order: Vec<usize> = (0..rules.len()).collect();
    order.sort_by_key(|&i| rules[i].ordinal);
    let rules = order.iter().map(|&i| rules[i].clone()).collect();
    let assembled = order.iter().map(|&i| assembled[i].clone()).collect();
    (rules, assembled, errors)
}

/// Validates a policy's rules against a schema; diagnostics name rule ordinal and id.
pub fn validate_policy(
    schema: &cedar_policy::Schema,
    policy: &Policy,
    assembled: &[AssembledRule],
) -> Vec<String> {
    check_policy(schema, policy, assembled).0
}

/// [`validate_policy`], with the validator's warnings for the lints (`service::lint`):
/// one validation for both.
pub fn check_policy(
    schema: &cedar_policy::Schema,
    policy: &Policy,
    assembled: &[AssembledRule],
) -> (Vec<String>, Vec<Diagnostic>) {
    let ids: Vec<String> = policy.rules.iter().map(|r| r.id.to_string()).collect();
    let pairs: Vec<(&str, &cedar_policy::Policy)> = ids
        .iter()
        .zip(assembled)
        .map(|(id, a)| (id.as_str(), &a.policy))
        .collect();
    let checked = check_rules(schema, &pairs);
    let mut errors: Vec<String> = checked
        .errors
        .iter()
        .map(|d| {
            let ordinal = policy
                .rules
                .iter()
                .find(|r| r.id.to_string() == d.rule_id)
                .map_or(0, |r| r.ordinal);
            format_diagnostic(d, usize::try_from(ordinal).unwrap_or(0))
        })
        .collect();
    if let Some(a) = &policy.approval {
        errors.extend(crate::cedar::schema::check_approval_requirements(
            schema,
            a.approvers.as_ref(),
        ));
    }
    (errors, checked.warnings)
}

/// Parses the stored rules of a policy back into Cedar (for re-validation elsewhere).
pub fn parse_stored(policy: &Policy) -> Result<Vec<AssembledRule>> {
    policy
        .rules
        .iter()
        .map(|r| {
            crate::cedar::engine::parse_stored_rule(r.id, &r.policy_text).map(|p| AssembledRule {
                text: r.policy_text.clone(),
                policy: p,
            })
        })
        .collect()
}

pub use crate::cedar::schema::parse_stored_schema;

/// A policy built from input: checked fields, assembled rules; not yet schema-validated.
pub struct Built {
    pub policy: Policy,
    pub assembled: Vec<AssembledRule>,
    pub errors: Vec<FieldError>,
}

pub fn build_new(input: &PolicyCreate, now: DateTime<Utc>) -> Built {
    build(input, None, now)
}

/// `input` as the next version of `current` (policy import): same id and creation time;
/// rules sent with the id of one of `current`'s rules keep it.
pub fn build_replacement(current: &Policy, input: &PolicyCreate, now: DateTime<Utc>) -> Built {
    build(input, Some(current), now)
}

fn build(input: &PolicyCreate, current: Option<&Policy>, now: DateTime<Utc>) -> Built {
    let (rules, assembled, mut errors) =
        build_rules(&input.rules, current.map(|c| c.rules.as_slice()), now);
    let mut policy = Policy {
        id: current.map_or_else(Uuid::now_v7, |c| c.id),
        key: input.key.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        enabled: input.enabled.unwrap_or(true),
        priority: input.priority.unwrap_or(0),
        max_duration_seconds: input.max_duration_seconds,
        default_duration_seconds: input.default_duration_seconds,
        notification_channel: input.notification_channel.clone(),
        covers_descendants: input.covers_descendants.unwrap_or(false),
        approval: input.approval.clone(),
        rules,
        cedar_policy_set: String::new(),
        version: current.map_or(1, |c| c.version + 1),
        created_at: current.map_or(now, |c| c.created_at),
        updated_at: now,
    };
    policy.cedar_policy_set = policy.rules_text();
    let mut all = check_policy_fields(&policy);
    all.append(&mut errors);
    Built {
        policy,
        assembled,
        errors: all,
    }
}

/// Applies a PATCH to a stored policy: the next version, rebuilt and field-checked.
pub fn build_patched(current: &Policy, patch: PolicyPatch, now: DateTime<Utc>) -> Built {
    let mut errors = Vec::new();
    let mut req = |r: std::result::Result<_, String>, fallback| match r {
        Ok(v) => v,
        Err(m) => {
            let (field, msg) = m.split_once(": ").unwrap_or(("body", m.as_str()));
            errors.push(FieldError::new(field, msg));
            fallback
        }
    };
    let name = req(
        patch.name.apply_required(current.name.clone(), "name"),
        current.name.clone(),
    );
    let mut p = Policy {
        id: current.id,
        key: patch.key.apply_optional(current.key.clone()),
        name,
        description: patch
            .description
            .apply_optional(current.description.clone()),
        enabled: current.enabled,
        priority: current.priority,
        max_duration_seconds: current.max_duration_seconds,
        default_duration_seconds: patch
            .default_duration_seconds
            .apply_optional(current.default_duration_seconds),
        notification_channel: patch
            .notification_channel
            .apply_optional(current.notification_channel.clone()),
        covers_descendants: current.covers_descendants,
        approval: patch.approval.apply_optional(current.approval.clone()),
        rules: current.rules.clone(),
        cedar_policy_set: String::new(),
        version: current.version + 1,
        created_at: current.created_at,
        updated_at: now,
    };
    for (field, value, target) in [
        (
            "max_duration_seconds",
            patch.max_duration_seconds,
            &mut p.max_duration_seconds,
        ),
        ("priority", patch.priority, &mut p.priority),
    ] {
        match value.apply_required(*target, field) {
            Ok(v) => *target = v,
            Err(m) => errors.push(FieldError::new(
                field,
                m.trim_start_matches(&format!("{field}: ")),
            )),
        }
    }
    match patch.enabled.apply_required(p.enabled, "enabled") {
        Ok(v) => p.enabled = v,
        Err(_) => errors.push(FieldError::new("enabled", "may not be null")),
    }
    match patch
        .covers_descendants
        .apply_required(p.covers_descendants, "covers_descendants")
    {
        Ok(v) => p.covers_descendants = v,
        Err(_) => errors.push(FieldError::new("covers_descendants", "may not be null")),
    }
    let assembled = match patch.rules {
        crate::domain::patch::Patch::Absent => match parse_stored(current) {
            Ok(a) => a,
            Err(e) => {
                tracing::error!(error = ?e, "stored policy does not parse");
                errors.push(FieldError::new(
                    "rules",
                    "the stored rules could not be read",
                ));
                Vec::new()
            }
        },
        crate::domain::patch::Patch::Null => {
            errors.push(FieldError::new(
                "rules",
                "may not be null (send [] for no rules)",
            ));
            Vec::new()
        }
        crate::domain::patch::Patch::Value(inputs) => {
            let (rules, assembled, errs) = build_rules(&inputs, Some(&current.rules), now);
            p.rules = rules;
            errors.extend(errs);
            assembled
        }
    };
    p.cedar_policy_set = p.rules_text();
    let mut all = check_policy_fields(&p);
    all.extend(errors);
    Built {
        policy: p,
        assembled,
        errors: all,
    }
}

fn audit_request(p: &Policy) -> serde_json::Value {
    json!({"version": p.version, "policy": p.to_create()})
}

fn key_conflict(e: Error, key: Option<&str>) -> Error {
    match (e, key) {
        (Error::Conflict(_), Some(k)) => Error::Conflict(format!(
            "a policy with key {k:?} already exists in this tenant"
        )),
        (e, _) => e,
    }
}

pub async fn create(
    store: &DynStore,
    caller: &Caller,
    input: PolicyCreate,
    now: DateTime<Utc>,
) -> Result<Written> {
    let tenant = caller.tenant_id;
    let built = build_new(&input, now);
    if !built.errors.is_empty() {
        return Err(invalid("policy", built.errors, Vec::new()));
    }
    for _ in 0..MAX_ATTEMPTS {
        let snap = store.config_snapshot(tenant).await?;
        let schema = parse_stored_schema(&snap.cedarschema)?;
        let (diags, cedar_warnings) = check_policy(&schema, &built.policy, &built.assembled);
        if !diags.is_empty() {
            return Err(invalid("policy", Vec::new(), diags));
        }
        let others = store.all_policies(tenant).await?;
        let warnings = super::lint::lint(&built.policy, cedar_warnings, &others);
        let event = NewEvent::new(
            now,
            caller.actor(),
            EventKind::PolicyCreate,
            Subject::new("policy", built.policy.id),
        )
        .with_request(audit_request(&built.policy));
        match store
            .insert_policy(tenant, snap.revision, &built.policy, event)
            .await
            .map_err(|e| key_conflict(e, built.policy.key.as_deref()))?
        {
            WriteOutcome::Committed(revision) => {
                return Ok(Written {
                    policy: built.policy,
                    revision,
                    warnings,
                })
            }
            WriteOutcome::StaleRevision => continue,
            WriteOutcome::VersionConflict
            | WriteOutcome::NotFound
            | WriteOutcome::InUse
            | WriteOutcome::Done => return Err(stale_error()),
        }
    }
    Err(stale_error())
}

/// A policy as a create or patch left it: the revision the write committed (its
/// consistency token) and the lints of its rules (see `service::lint`).
pub struct Written {
    pub policy: Policy,
    pub revision: i64,
    pub warnings: Vec<super::lint::Warning>,
}

pub async fn get(store: &DynStore, tenant: TenantId, r: &PolicyRef) -> Result<Policy> {
    store
        .get_policy(tenant, r)
        .await?
        .ok_or_else(|| Error::not_found("no such policy"))
}

/// A page of the tenant's policies in `order`; the page's cursor (`page.after`) is the
/// last item's [`cursor`].
pub async fn list(
    store: &DynStore,
    tenant: TenantId,
    order: PolicyOrder,
    page: &PageRequest,
) -> Result<(Vec<Policy>, i64, bool)> {
    let bad = || Error::invalid("next_page_token is not valid for this list");
    let after = match &page.after {
        None => None,
        Some(v) => {
            let (priority, id) = match order {
                PolicyOrder::Created => (Some(0), v.as_str()),
                PolicyOrder::PriorityDesc => (v[0].as_i64(), v[1].as_str()),
            };
            let id = id.and_then(|s| Uuid::try_parse(s).ok()).ok_or_else(bad)?;
            Some(PolicyAfter {
                priority: priority.ok_or_else(bad)?,
                id,
            })
        }
    };
    let (mut items, total) = store
        .list_policies(tenant, order, after, page.offset(), page.per_page + 1)
        .await?;
    let more = items.len() as i64 > page.per_page;
    items.truncate(page.per_page as usize);
    Ok((items, total, more))
}

/// The sort key a cursor carries after `p` in `order`.
pub fn cursor(order: PolicyOrder, p: &Policy) -> serde_json::Value {
    match order {
        PolicyOrder::Created => serde_json::json!(p.id),
        PolicyOrder::PriorityDesc => serde_json::json!([p.priority, p.id]),
    }
}

pub async fn patch(
    store: &DynStore,
    caller: &Caller,
    r: &PolicyRef,
    patch: PolicyPatch,
    if_match: Option<i64>,
    now: DateTime<Utc>,
) -> Result<Written> {
    let tenant = caller.tenant_id;
    for _ in 0..MAX_ATTEMPTS {
        let current = get(store, tenant, r).await?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(Error::Conflict(format!(
                "If-Match {} is stale: the policy is at version {}",
                if_match.unwrap_or_default(),
                current.version
            )));
        }
        let built = build_patched(&current, patch.clone(), now);
        if !built.errors.is_empty() {
            return Err(invalid("policy", built.errors, Vec::new()));
        }
        let snap = store.config_snapshot(tenant).await?;
        let schema = parse_stored_schema(&snap.cedarschema)?;
        let (diags, cedar_warnings) = check_policy(&schema, &built.policy, &built.assembled);
        if !diags.is_empty() {
            return Err(invalid("policy", Vec::new(), diags));
        }
        let others = store.all_policies(tenant).await?;
        let warnings = super::lint::lint(&built.policy, cedar_warnings, &others);
        let event = NewEvent::new(
            now,
            caller.actor(),
            EventKind::PolicyUpdate,
            Subject::new("policy", built.policy.id),
        )
        .with_request(audit_request(&built.policy));
        match store
            .update_policy(tenant, snap.revision, &built.policy, current.version, event)
            .await
            .map_err(|e| key_conflict(e, built.policy.key.as_deref()))?
        {
            WriteOutcome::Committed(revision) => {
                return Ok(Written {
                    policy: built.policy,
                    revision,
                    warnings,
                })
            }
            // Someone else wrote in between: re-read and re-apply (If-Match catches it then).
            WriteOutcome::StaleRevision | WriteOutcome::VersionConflict => continue,
            WriteOutcome::NotFound => return Err(Error::not_found("no such policy")),
            WriteOutcome::InUse | WriteOutcome::Done => return Err(stale_error()),
        }
    }
    Err(stale_error())
}

/// Deletes a policy; answers the revision the deletion committed.
pub async fn delete(
    store: &DynStore,
    caller: &Caller,
    r: &PolicyRef,
    if_match: Option<i64>,
    now: DateTime<Utc>,
) -> Result<i64> {
    let current = get(store, caller.tenant_id, r).await?;
    let event = NewEvent::new(
        now,
        caller.actor(),
        EventKind::PolicyDelete,
        Subject::new("policy", current.id),
    )
    .with_request(json!({"version": current.version, "key": current.key}));
    match store
        .delete_policy(caller.tenant_id, current.id, if_match, now, event)
        .await?
    {
        WriteOutcome::Committed(revision) => Ok(revision),
        WriteOutcome::NotFound => Err(Error::not_found("no such policy")),
        WriteOutcome::VersionConflict => Err(Error::Conflict(
            "If-Match is stale: the policy has changed".into(),
        )),
        WriteOutcome::InUse => Err(Error::Conflict(
            "the policy governs active grants: disable it instead, or revoke them first".into(),
        )),
        WriteOutcome::StaleRevision | WriteOutcome::Done => Err(stale_error()),
    }
}
