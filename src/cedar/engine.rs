//! The decision engine: a tenant's configuration (schema, enabled rules, entities; handed
//! over as plain values) compiled once into a Cedar `PolicySet` with an index from rule to
//! policy, and evaluated from memory. Which sets are cached, and when they are loaded, is
//! `crate::service::policy_sets`'s business.

use crate::cedar::candidates::CandidateIndex;
use crate::cedar::limits;
use crate::domain::audit::Determining;
use crate::domain::config::TenantConfig;
use crate::domain::policy::compiled_text;
use crate::domain::rule::Effect;
use crate::error::{Error, Result};
use cedar_policy::{Authorizer, Decision, Entities, PolicyId, PolicySet, Request, Schema};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// What a decision needs to know about the policy a rule belongs to.
#[derive(Debug, Clone)]
pub struct PolicyMeta {
    pub id: Uuid,
    pub key: Option<String>,
    pub priority: i64,
    pub max_duration_seconds: i64,
    pub default_duration_seconds: Option<i64>,
    pub covers_descendants: bool,
    /// Whether (and how) grants this policy governs wait for approval.
    pub approval: Option<crate::domain::grant::ApprovalRequirement>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct RuleMeta {
    pub rule_id: Uuid,
    pub policy: Arc<PolicyMeta>,
    pub ordinal: i64,
    pub effect: Effect,
    pub notice: Option<String>,
    pub audit_session: bool,
    /// The actions the rule names (action scope `eq` or `in`); empty for `any`. A
    /// self-approval counts only when a permit that names `self_approve` determines it.
    pub named_actions: Vec<String>,
}

/// One tenant's compiled configuration at one revision.
pub struct CompiledSet {
    /// The configuration revision this set was compiled from: its `policy_set_version`.
    pub version: i64,
    /// Every enabled rule.
    pub policies: PolicySet,
    index: CandidateIndex,
    pub rules: HashMap<PolicyId, RuleMeta>,
    pub schema: Schema,
    pub entities: Entities,
    /// Every entity a stored entity names as an ancestor, stored or not. A request-scoped
    /// entity with one of these ids would change stored entities' ancestry for that call.
    pub referenced: std::collections::HashSet<cedar_policy::EntityUid>,
    /// The enabled policies that say `covers_descendants`: their grants pass the access
    /// checks of their resource's descendants too.
    pub covering: std::collections::HashSet<Uuid>,
    /// Whether this set's decisions may cost more than a request worker should spend: more
    /// than [`CHEAP_LIKE_RULES`] rules use `like` (each may cost ~1 ms at the limits), or
    /// its rules' conditions hold more than [`CHEAP_CONDITION_BYTES`] (large literals cost
    /// in proportion); its decisions are then made on a blocking thread.
    pub costly: bool,
    /// The ancestry depth of every stored entity that has parents, by `(type, id)`: a
    /// request-scoped entity's depth counts its stored ancestors too.
    pub depths: HashMap<(String, String), usize>,
    /// The schema's entity and action types by their text, so a request's types are looked
    /// up instead of parsed (a type the schema lacks still takes the parser, for its error).
    pub type_names: HashMap<String, cedar_policy::EntityTypeName>,
    /// Context shapes this set's schema accepted (see [`ContextShapes`]).
    pub context_shapes: ContextShapes,
    pub text: String,
}

/// The shapes of contexts the schema accepted, for one compiled set (so it lives exactly as
/// long as the schema it speaks for). A shape is the action's text and, for a context of
/// strings, integers, booleans and sets of them, each key with the type of its value; the
/// schema's verdict on such a context depends on nothing else (no value can name an entity
/// or an extension type, and Cedar's schema types admit every string, integer or boolean),
/// so a context of a shape accepted before is accepted again without the check. Only
/// acceptances are kept: a rejected context is checked every time, so its error names its
/// own values. Bounded, in entries and in key length; past either bound contexts are just
/// checked.
#[derive(Default)]
pub struct ContextShapes(std::sync::RwLock<std::collections::HashSet<Box<[u8]>>>);

impl ContextShapes {
    const MAX_SHAPES: usize = 1024;
    /// Bytes of one shape at most: contexts larger than this are checked every time.
    const MAX_KEY: usize = 1024;

    pub fn contains(&self, shape: &[u8]) -> bool {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(shape)
    }

    pub fn insert(&self, shape: Vec<u8>) {
        if shape.len() > Self::MAX_KEY {
            return;
        }
        let mut known = self.0.write().unwrap_or_else(|p| p.into_inner());
        if known.len() < Self::MAX_SHAPES {
            known.insert(shape.into_boxed_slice());
        }
    }

    pub fn len(&self) -> usize {
        self.0.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for CompiledSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledSet")
            .field("version", &self.version)
            .field("rules", &self.rules.len())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenyReason {
    Forbid,
    NoPermit,
    Error,
}

impl DenyReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            DenyReason::Forbid => "forbid",
            DenyReason::NoPermit => "no_permit",
            DenyReason::Error => "error",
        }
    }
}

/// The outcome of one evaluation.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub allowed: bool,
    pub deny_reason: Option<DenyReason>,
    /// Determining rules, by policy priority (highest first), then rule ordinal.
    pub determining: Vec<RuleMeta>,
    pub notices: Vec<String>,
    pub errors: Vec<String>,
}

impl Evaluation {
    pub fn determining_wire(&self) -> Vec<Determining> {
        self.determining
            .iter()
            .map(|r| Determining {
                policy_id: r.policy.id.to_string(),
                rule_id: r.rule_id.to_string(),
                effect: r.effect.as_str().to_string(),
            })
            .collect()
    }
}

fn internal(what: String) -> Error {
    Error::internal(anyhow::anyhow!(what))
}

/// Rules with a `like` a set may hold and still be decided on the request workers: at the
/// limits (128 pattern characters against 4,096), one such rule costs about 1 ms.
pub const CHEAP_LIKE_RULES: usize = 4;

/// Bytes of conditions over all of a set's rules that its decisions may evaluate on the
/// request workers (1,000 rules of a typical 80-byte condition are 80 KB; 200 rules of
/// 20 KB set literals took 0.35 s a decision).
pub const CHEAP_CONDITION_BYTES: usize = 256 * 1024;

/// Parses a stored rule's text, after checking it against today's limits: a rule stored by
/// an earlier version may break them, and Cedar's parser must not see it then.
pub fn parse_stored_rule(id: Uuid, text: &str) -> Result<cedar_policy::Policy> {
    limits::check_stored(text, limits::Text::Policy).map_err(|m| {
        Error::PolicySetInvalid(format!("stored rule {id} {m}; fix or delete its policy"))
    })?;
    limits::on_cedar_stack(|| {
        cedar_policy::Policy::parse(Some(PolicyId::new(id.to_string())), text)
            .map_err(|e| Error::PolicySetInvalid(format!("stored rule {id} does not parse: {e}")))
    })
}

/// Compiles a tenant's configuration. Stored rules were validated when written, so they are
/// only parsed here; entities are parsed against the schema so typed attributes are right.
/// What breaks a limit (stored by an earlier version) fails with `PolicySetInvalid` before
/// Cedar sees it: that tenant's decisions fail closed, and no other tenant notices.
pub fn compile(config: TenantConfig) -> Result<CompiledSet> {
    limits::on_cedar_stack(|| compile_on_stack(config))
}

fn compile_on_stack(config: TenantConfig) -> Result<CompiledSet> {
    let schema = super::schema::parse_stored_schema(&config.cedarschema)?;
    let mut policies = PolicySet::new();
    let mut parsed_all = Vec::new();
    let mut rules = HashMap::new();
    let mut covering = std::collections::HashSet::new();
    let mut like_rules = 0usize;
    let mut condition_bytes = 0usize;
    for p in &config.policies {
        let meta = Arc::new(PolicyMeta {
            id: p.id,
            key: p.key.clone(),
            priority: p.priority,
            max_duration_seconds: p.max_duration_seconds,
            default_duration_seconds: p.default_duration_seconds,
            covers_descendants: p.covers_descendants,
            approval: p.approval.clone(),
            created_at: p.created_at,
        });
        if p.covers_descendants {
            covering.insert(p.id);
        }
        for r in &p.rules {
            let id = PolicyId::new(r.id.to_string());
            let parsed = parse_stored_rule(r.id, &r.policy_text)?;
            // A word `like` anywhere in the conditions (also in a string or a comment: an
            // over-count costs only a thread hop).
            if r.conditions.as_deref().is_some_and(|c| c.contains("like")) {
                like_rules += 1;
            }
            condition_bytes += r.conditions.as_deref().map_or(0, str::len);
            parsed_all.push(parsed.clone());
            policies
                .add(parsed)
                .map_err(|e| internal(format!("rule {} cannot join the set: {e}", r.id)))?;
            rules.insert(
                id,
                RuleMeta {
                    rule_id: r.id,
                    policy: meta.clone(),
                    ordinal: r.ordinal,
                    effect: r.effect,
                    notice: r.notice.clone(),
                    audit_session: r.audit_session,
                    named_actions: r.action_ids.clone().unwrap_or_default(),
                },
            );
        }
    }
    let rows: Vec<Value> = config
        .entities
        .iter()
        .map(|r| serde_json::from_str(&r.body))
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| internal(format!("stored entity is not JSON: {e}")))?;
    for row in &rows {
        limits::check_json(row).map_err(|m| {
            Error::PolicySetInvalid(format!(
                "a stored entity breaks a limit: {m}; replace or delete it"
            ))
        })?;
    }
    let mut depths = limits::entity_depths(&rows, |_| 0).map_err(|m| {
        Error::PolicySetInvalid(format!(
            "stored entities break a limit: {m}; replace or delete them"
        ))
    })?;
    depths.retain(|_, d| *d > 0);
    let entities = Entities::from_json_value(Value::Array(rows), Some(&schema))
        .map_err(|e| Error::PolicySetInvalid(format!("the stored entities do not load: {e}")))?;
    let referenced = entities
        .iter()
        .filter_map(|e| entities.ancestors(&e.uid()))
        .flatten()
        .cloned()
        .collect();
    let type_names = schema
        .entity_types()
        .cloned()
        .chain(schema.actions().map(|a| a.type_name().clone()))
        .map(|t| (t.to_string(), t))
        .collect();
    Ok(CompiledSet {
        costly: like_rules > CHEAP_LIKE_RULES || condition_bytes > CHEAP_CONDITION_BYTES,
        covering,
        depths,
        referenced,
        type_names,
        context_shapes: ContextShapes::default(),
        version: config.revision,
        text: compiled_text(&config.policies),
        index: CandidateIndex::new(parsed_all, &schema),
        policies,
        rules,
        schema,
        entities,
    })
}

fn order(a: &RuleMeta, b: &RuleMeta) -> std::cmp::Ordering {
    b.policy
        .priority
        .cmp(&a.policy.priority)
        .then(a.policy.id.cmp(&b.policy.id))
        .then(a.ordinal.cmp(&b.ordinal))
        .then(a.rule_id.cmp(&b.rule_id))
}

impl CompiledSet {
    /// The rules that could apply to `request`: the one place rules are chosen for
    /// evaluation. It must never drop a rule that could apply (see `candidates.rs`).
    pub fn candidates(&self, request: &Request, entities: &Entities) -> Cow<'_, PolicySet> {
        self.index
            .select(request, entities)
            .and_then(|chosen| self.index.set_of(&chosen))
            .unwrap_or(Cow::Borrowed(&self.policies))
    }

    /// Evaluates a request. Fail closed: a `forbid` rule that errors denies (`error`);
    /// an erroring `permit` is reported and otherwise changes nothing.
    pub fn evaluate(&self, request: &Request, entities: &Entities) -> Evaluation {
        let candidates = self.candidates(request, entities);
        self.evaluate_with(&candidates, request, entities)
    }

    /// Evaluates against every rule, without candidate selection (the reference the
    /// selection is tested against).
    pub fn evaluate_all(&self, request: &Request, entities: &Entities) -> Evaluation {
        self.evaluate_with(&self.policies, request, entities)
    }

    fn evaluate_with(&self, set: &PolicySet, request: &Request, entities: &Entities) -> Evaluation {
        let response = Authorizer::new().is_authorized(request, set, entities);
        let meta = |id: &PolicyId| self.rules.get(id).cloned();
        let mut errors = Vec::new();
        let mut errored_forbids = Vec::new();
        let mut unknown = false;
        for e in response.diagnostics().errors() {
            let cedar_policy::AuthorizationError::PolicyEvaluationError(pe) = e;
            let id = pe.policy_id();
            errors.push(format!("rule {id}: {e}"));
            match meta(id) {
                Some(m) if m.effect == Effect::Forbid => errored_forbids.push(m),
                Some(_) => {}
                None => unknown = true,
            }
        }
        let mut reasons = Vec::new();
        for id in response.diagnostics().reason() {
            match meta(id) {
                Some(m) => reasons.push(m),
                None => unknown = true,
            }
        }
        let (allowed, deny_reason, mut determining) = match response.decision() {
            _ if unknown => (false, Some(DenyReason::Error), Vec::new()),
            Decision::Allow if errored_forbids.is_empty() => (true, None, reasons),
            Decision::Allow => (false, Some(DenyReason::Error), errored_forbids),
            Decision::Deny if !reasons.is_empty() => (false, Some(DenyReason::Forbid), reasons),
            Decision::Deny if !errored_forbids.is_empty() => {
                (false, Some(DenyReason::Error), errored_forbids)
            }
            Decision::Deny => (false, Some(DenyReason::NoPermit), Vec::new()),
        };
        if unknown {
            errors.push("a decision named a rule that is not in the compiled set".into());
        }
        determining.sort_by(order);
        let notices = determining
            .iter()
            .filter_map(|r| r.notice.clone())
            .collect();
        Evaluation {
            allowed,
            deny_reason,
            determining,
            notices,
            errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::policy::PolicyCreate;
    use crate::service::policies::build_new;
    use crate::store::EntityRow;
    use cedar_policy::{Context, EntityUid};
    use serde_json::json;
    use std::collections::BTreeSet;
    use std::str::FromStr;

    const SCHEMA: &str = r#"
        entity Group in [Group];
        entity User in [Group] { department?: String };
        entity App;
        entity Entitlement in [App];
        action all;
        action request, extend in [all] appliesTo {
            principal: [User], resource: [App, Entitlement], context: { n: Long }
        };
    "#;

    fn scopes(side: &str) -> Vec<serde_json::Value> {
        let (t, ids, parent) = if side == "principal" {
            ("User", ["u1", "u2"], "Group")
        } else {
            ("Entitlement", ["e1", "e2"], "App")
        };
        let k = |s: &str| format!("{side}_{s}");
        let mut out = vec![json!({ k("scope_type"): "any" })];
        for id in ids {
            out.push(json!({ k("scope_type"): "eq", k("entity_type"): t, k("entity_id"): id }));
        }
        let groups = if side == "principal" {
            ["g1", "g2"]
        } else {
            ["a1", "a2"]
        };
        for g in groups {
            out.push(json!({ k("scope_type"): "in", k("entity_type"): parent, k("entity_id"): g }));
            out.push(json!({ k("scope_type"): "is_in", k("entity_type"): t,
                             k("entity_id"): format!("{parent}::\"{g}\"") }));
        }
        out.push(json!({ k("scope_type"): "is", k("entity_type"): t }));
        if side == "resource" {
            out.push(
                json!({ k("scope_type"): "eq", k("entity_type"): "App", k("entity_id"): "a1" }),
            );
            out.push(json!({ k("scope_type"): "is", k("entity_type"): "App" }));
        }
        out
    }

    fn tenant() -> TenantConfig {
        let actions = [
            json!({"action_scope_type": "any"}),
            json!({"action_scope_type": "eq", "action_ids": ["request"]}),
            json!({"action_scope_type": "in", "action_ids": ["extend"]}),
            json!({"action_scope_type": "in", "action_ids": ["all"]}),
        ];
        let conditions = [
            None,
            Some("when { context.n > 1 }"),
            Some("when { context.n * 9223372036854775807 > 1 }"),
            Some("unless { principal has department }"),
        ];
        let mut rules = Vec::new();
        let mut i = 0usize;
        for p in scopes("principal") {
            for a in &actions {
                for r in scopes("resource") {
                    let mut rule = json!({"effect": if i.is_multiple_of(3) { "forbid" } else { "permit" },
                        "notice": format!("n{i}")});
                    for part in [&p, a, &r] {
                        for (key, v) in part.as_object().unwrap() {
                            rule[key] = v.clone();
                        }
                    }
                    if let Some(c) = conditions[i % conditions.len()] {
                        rule["conditions"] = json!(c);
                    }
                    rules.push(rule);
                    i += 1;
                }
            }
        }
        let now = chrono::Utc::now();
        let policies = rules
            .chunks(150)
            .enumerate()
            .map(|(n, chunk)| {
                let body: PolicyCreate = serde_json::from_value(json!({
                    "name": format!("p{n}"), "priority": n as i64, "max_duration_seconds": 60,
                    "rules": chunk }))
                .unwrap();
                let built = build_new(&body, now);
                assert!(built.errors.is_empty(), "{:?}", built.errors);
                built.policy
            })
            .collect();
        let e = |t: &str, id: &str, parents: serde_json::Value| EntityRow {
            etype: t.into(),
            id: id.into(),
            body: json!({"uid": {"type": t, "id": id}, "attrs": {}, "parents": parents})
                .to_string(),
        };
        TenantConfig {
            revision: 7,
            cedarschema: SCHEMA.into(),
            policies,
            entities: vec![
                e("Group", "g2", json!([])),
                e("Group", "g1", json!([{"type": "Group", "id": "g2"}])),
                e("User", "u1", json!([{"type": "Group", "id": "g1"}])),
                e("User", "u2", json!([])),
                e("App", "a1", json!([])),
                e("App", "a2", json!([])),
                e("Entitlement", "e1", json!([{"type": "App", "id": "a1"}])),
                e("Entitlement", "e2", json!([{"type": "App", "id": "a2"}])),
            ],
        }
    }

    fn summary(
        e: &Evaluation,
    ) -> (
        bool,
        Option<DenyReason>,
        Vec<Uuid>,
        BTreeSet<String>,
        Vec<String>,
    ) {
        (
            e.allowed,
            e.deny_reason,
            e.determining.iter().map(|r| r.rule_id).collect(),
            e.errors.iter().cloned().collect(),
            e.notices.clone(),
        )
    }

    #[test]
    fn candidate_selection_never_changes_a_decision() {
        let set = compile(tenant()).unwrap();
        assert!(set.rules.len() > 300, "{}", set.rules.len());
        let mut checked = 0;
        let mut narrowed = 0;
        for p in ["User::\"u1\"", "User::\"u2\"", "User::\"ghost\""] {
            for a in [
                "Action::\"request\"",
                "Action::\"extend\"",
                "Action::\"all\"",
            ] {
                for r in [
                    "App::\"a1\"",
                    "App::\"a2\"",
                    "Entitlement::\"e1\"",
                    "Entitlement::\"e2\"",
                    "Entitlement::\"ghost\"",
                ] {
                    for n in [0, 2] {
                        let req = cedar_policy::Request::new(
                            EntityUid::from_str(p).unwrap(),
                            EntityUid::from_str(a).unwrap(),
                            EntityUid::from_str(r).unwrap(),
                            Context::from_json_value(json!({ "n": n }), None).unwrap(),
                            None,
                        )
                        .unwrap();
                        let fast = set.evaluate(&req, &set.entities);
                        let full = set.evaluate_all(&req, &set.entities);
                        assert_eq!(summary(&fast), summary(&full), "{p} {a} {r} n={n}");
                        if set.candidates(&req, &set.entities).num_of_policies()
                            < set.rules.len() / 2
                        {
                            narrowed += 1;
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 90);
        assert!(
            narrowed > 60,
            "selection should narrow most requests: {narrowed}"
        );
    }

    /// Requests with no candidate, one (whose set is built once and then reused) and
    /// several decide as the full set does, with any context, again and again.
    #[test]
    fn none_one_and_many_candidates_decide_as_the_full_set() {
        let mut config = tenant();
        let now = chrono::Utc::now();
        let body: PolicyCreate = serde_json::from_value(json!({
        "name": "few", "max_duration_seconds": 60, "rules": [
            {"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
             "principal_entity_id": "u2", "action_scope_type": "eq", "action_ids": ["request"],
             "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "a2",
             "conditions": "when { context.n > 1 }", "notice": "one"},
            {"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
             "principal_entity_id": "u2", "action_scope_type": "eq", "action_ids": ["extend"],
             "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "a2",
             "notice": "no extending"},
            {"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
             "principal_entity_id": "u2", "action_scope_type": "eq", "action_ids": ["extend"],
             "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "a2"}
        ]}))
        .unwrap();
        let built = build_new(&body, now);
        assert!(built.errors.is_empty(), "{:?}", built.errors);
        config.policies = vec![built.policy];
        let set = compile(config).unwrap();
        let req = |a: &str, r: &str, n: i64| {
            cedar_policy::Request::new(
                EntityUid::from_str("User::\"u2\"").unwrap(),
                EntityUid::from_str(a).unwrap(),
                EntityUid::from_str(r).unwrap(),
                Context::from_json_value(json!({ "n": n }), None).unwrap(),
                None,
            )
            .unwrap()
        };
        let cases = [
            ("Action::\"request\"", "App::\"a1\"", 0),
            ("Action::\"request\"", "App::\"a2\"", 1),
            ("Action::\"extend\"", "App::\"a2\"", 2),
        ];
        for round in 0..2 {
            for (a, r, candidates) in cases {
                for n in [0, 2, 5] {
                    let q = req(a, r, n);
                    assert_eq!(
                        set.candidates(&q, &set.entities).num_of_policies(),
                        candidates
                    );
                    let fast = set.evaluate(&q, &set.entities);
                    let full = set.evaluate_all(&q, &set.entities);
                    assert_eq!(
                        summary(&fast),
                        summary(&full),
                        "{a} {r} n={n} round {round}"
                    );
                }
            }
        }
        // The one-candidate request follows its condition every time (the set is reused,
        // the decision is not).
        let (a, r, _) = cases[1];
        assert!(!set.evaluate(&req(a, r, 0), &set.entities).allowed);
        assert!(set.evaluate(&req(a, r, 2), &set.entities).allowed);
        assert!(!set.evaluate(&req(a, r, 1), &set.entities).allowed);
        let e = set.evaluate(&req(cases[2].0, cases[2].1, 0), &set.entities);
        assert_eq!(e.deny_reason, Some(DenyReason::Forbid));
        assert_eq!(e.notices, vec!["no extending".to_string()]);
    }

    #[test]
    fn fail_closed_and_ordering() {
        let set = compile(tenant()).unwrap();
        let req = cedar_policy::Request::new(
            EntityUid::from_str("User::\"u1\"").unwrap(),
            EntityUid::from_str("Action::\"request\"").unwrap(),
            EntityUid::from_str("Entitlement::\"e1\"").unwrap(),
            Context::from_json_value(json!({ "n": 2 }), None).unwrap(),
            None,
        )
        .unwrap();
        let e = set.evaluate(&req, &set.entities);
        assert!(!e.allowed);
        assert!(!e.errors.is_empty());
        let prios: Vec<i64> = e.determining.iter().map(|r| r.policy.priority).collect();
        let mut sorted = prios.clone();
        sorted.sort_by(|a, b| b.cmp(a));
        assert_eq!(prios, sorted);
    }
}
