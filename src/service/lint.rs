//! Lints of a policy's rules, returned with every policy write as notices of severity
//! `warning`; they never refuse a write. Cedar's validator warns of rules that no request
//! of the schema can match (an impossible policy) and of confusable text; grantd adds the
//! checks Cedar cannot make, as they span rules: a rule that duplicates another enabled
//! rule, and a permit that an unconditional forbid with the same or a wider scope always
//! overrides (it can never allow).

use crate::cedar::validate::Diagnostic;
use crate::domain::policy::{Policy, Rule};
use crate::domain::rule::{ActionScopeType, Effect, ScopeType};
use serde::Serialize;
use std::collections::HashSet;

/// One warning about one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Warning {
    /// Always `warning`: lints never refuse a write.
    pub severity: &'static str,
    /// The rule the warning is about.
    pub rule_id: String,
    /// `rule N: …`, naming the other rule where there is one.
    pub message: String,
}

fn warning(rule: &Rule, message: String) -> Warning {
    Warning {
        severity: "warning",
        rule_id: rule.id.to_string(),
        message: format!("rule {}: {message}", rule.ordinal),
    }
}

/// The warnings for `policy`: the validator's (`cedar_warnings`, from the validation of
/// the write, `service::policies::check_policy`) and grantd's, among the tenant's other
/// enabled policies `others` (`policy` itself, if among them, is skipped).
pub fn lint(policy: &Policy, cedar_warnings: Vec<Diagnostic>, others: &[Policy]) -> Vec<Warning> {
    let mut out = validator_warnings(policy, cedar_warnings);
    let others: Vec<&Policy> = others
        .iter()
        .filter(|o| o.id != policy.id && o.enabled)
        .collect();
    let name = |p: &Policy| p.key.clone().unwrap_or_else(|| p.id.to_string());
    for (i, rule) in policy.rules.iter().enumerate() {
        // duplicates: an earlier rule of this policy, or a rule of another enabled one
        if let Some(first) = policy.rules[..i]
            .iter()
            .find(|r| r.policy_text == rule.policy_text)
        {
            out.push(warning(rule, format!("duplicates rule {}", first.ordinal)));
        } else if let Some((p, r)) = others.iter().find_map(|p| {
            p.rules
                .iter()
                .find(|r| r.policy_text == rule.policy_text)
                .map(|r| (p, r))
        }) {
            out.push(warning(
                rule,
                format!("duplicates rule {} of policy {}", r.ordinal, name(p)),
            ));
        }
        if rule.effect != Effect::Permit {
            continue;
        }
        let shadow = policy
            .rules
            .iter()
            .map(|r| (None, r))
            .chain(
                others
                    .iter()
                    .flat_map(|p| p.rules.iter().map(move |r| (Some(*p), r))),
            )
            .find(|(_, f)| shadows(f, rule));
        if let Some((p, f)) = shadow {
            let of = p
                .map(|p| format!(" of policy {}", name(p)))
                .unwrap_or_default();
            out.push(warning(
                rule,
                format!(
                    "can never allow: forbid rule {}{of} has no conditions and covers its whole scope",
                    f.ordinal
                ),
            ));
        }
    }
    out
}

/// The validator's warnings about `policy`'s rules (from `service::policies::check_policy`)
/// as notices: what a schema write answers for every stored policy, as the rules may no
/// longer match any request of the new schema.
pub fn validator_warnings(policy: &Policy, cedar_warnings: Vec<Diagnostic>) -> Vec<Warning> {
    cedar_warnings
        .into_iter()
        .filter_map(|d| {
            let rule = policy
                .rules
                .iter()
                .find(|r| r.id.to_string() == d.rule_id)?;
            Some(warning(rule, d.message))
        })
        .collect()
}

/// Whether `forbid` denies every request `permit` could allow: unconditional, and on each
/// of principal, action and resource either unscoped or scoped exactly as `permit` (or,
/// for actions, to a superset of its actions). Only certain cases are reported.
fn shadows(forbid: &Rule, permit: &Rule) -> bool {
    let same = |t: ScopeType,
                ty: &Option<String>,
                id: &Option<String>,
                p: (ScopeType, &Option<String>, &Option<String>)| {
        t == ScopeType::Any || (t == p.0 && ty == p.1 && id == p.2)
    };
    let actions = match (forbid.action_scope_type, permit.action_scope_type) {
        (ActionScopeType::Any, _) => true,
        (_, ActionScopeType::Any) => false,
        _ => {
            let f: HashSet<&String> = forbid.action_ids.iter().flatten().collect();
            permit.action_ids.iter().flatten().all(|a| f.contains(a))
        }
    };
    forbid.effect == Effect::Forbid
        && forbid
            .conditions
            .as_deref()
            .is_none_or(|c| c.trim().is_empty())
        && actions
        && same(
            forbid.principal_scope_type,
            &forbid.principal_entity_type,
            &forbid.principal_entity_id,
            (
                permit.principal_scope_type,
                &permit.principal_entity_type,
                &permit.principal_entity_id,
            ),
        )
        && same(
            forbid.resource_scope_type,
            &forbid.resource_entity_type,
            &forbid.resource_entity_id,
            (
                permit.resource_scope_type,
                &permit.resource_entity_type,
                &permit.resource_entity_id,
            ),
        )
}
