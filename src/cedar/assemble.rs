//! Builds the Cedar text of one rule from a policy author's typed input.
//!
//! Authors control entity ids, type names and a raw `when`/`unless` tail. None
//! of those may change the shape of the rule (its effect, scope, annotations,
//! or the number of policies), so the assembled text is parsed back and the
//! parsed shape is compared with the one built from the typed input. Textual
//! screening is only used to give friendlier messages; the parse-back is what
//! actually enforces the invariants.

use std::str::FromStr;

use super::limits;
use crate::domain::policy::MAX_CONDITIONS;
pub use crate::domain::rule::{
    policy_set_text, ActionScopeType, Effect, FieldError, RuleSpec, ScopeType,
};
use cedar_policy::ffi::DetailedError;
use cedar_policy::{
    ActionConstraint, EntityId, EntityTypeName, EntityUid, ParseErrors, Policy, PolicyId,
    PolicySet, PrincipalConstraint, ResourceConstraint,
};

/// A rule whose text has been proven to parse back into exactly the intended
/// shape. `policy` carries the rule id as its `PolicyId`, and its source
/// locations refer to `text`.
#[derive(Debug, Clone)]
pub struct AssembledRule {
    pub text: String,
    pub policy: Policy,
}

/// Assembles and verifies one rule, reporting every field problem at once so
/// an author can fix a form in one round trip.
///
/// # Errors
///
/// All field errors found, each naming the offending input field.
pub fn assemble_rule(spec: &RuleSpec) -> Result<AssembledRule, Vec<FieldError>> {
    let mut errors = Vec::new();

    let principal = entity_scope(
        &PRINCIPAL,
        spec.principal_scope_type,
        spec.principal_entity_type.as_deref(),
        spec.principal_entity_id.as_deref(),
        &mut errors,
    );
    let action = action_scope(
        spec.action_scope_type,
        spec.action_ids.as_deref(),
        &mut errors,
    );
    let resource = entity_scope(
        &RESOURCE,
        spec.resource_scope_type,
        spec.resource_entity_type.as_deref(),
        spec.resource_entity_id.as_deref(),
        &mut errors,
    );

    // An invalid scope is replaced by an unconstrained one so that the
    // remaining parts (notably `conditions`) still get checked and reported.
    let scope = Scope {
        effect: spec.effect,
        principal: principal.unwrap_or(EntityScope::Any),
        action: action.unwrap_or(ActionScope::Any),
        resource: resource.unwrap_or(EntityScope::Any),
    };

    // Too long or too deep a text is refused before Cedar's (recursive) parser sees it.
    let oversized = spec
        .conditions
        .as_ref()
        .is_some_and(|c| c.len() > MAX_CONDITIONS);
    if oversized {
        errors.push(FieldError::new(
            CONDITIONS,
            format!("at most {MAX_CONDITIONS} bytes"),
        ));
    }
    let conditions = spec
        .conditions
        .as_deref()
        .filter(|c| !oversized && !c.trim().is_empty());
    let expects_clauses = match conditions {
        None => Some(false),
        Some(c) => {
            match limits::check_text(c, limits::Text::Policy).and_then(|()| clause_prefix(c)) {
                Ok(has_clause) => Some(has_clause),
                Err(message) => {
                    errors.push(FieldError::new(CONDITIONS, message));
                    None
                }
            }
        }
    };

    // The scope is verified on its own first, so that anything going wrong
    // once `conditions` is appended can only be the conditions' fault.
    let scope_only = scope.render(None);
    let scope_checked = match verify(&scope_only.text, &spec.rule_id, &scope, false) {
        Ok(policy) => Some(policy),
        Err(failures) => {
            errors.extend(blame_scope(&scope, &spec.rule_id, &failures));
            None
        }
    };

    let assembled = match (scope_checked, conditions, expects_clauses) {
        (Some(policy), None, _) => Some(AssembledRule {
            text: scope_only.text,
            policy,
        }),
        (Some(_), Some(cond), Some(has_clause)) => {
            let full = scope.render(Some(cond));
            match verify(&full.text, &spec.rule_id, &scope, has_clause) {
                Ok(policy) => Some(AssembledRule {
                    text: full.text,
                    policy,
                }),
                Err(failures) => {
                    errors.extend(
                        failures
                            .iter()
                            .map(|f| FieldError::new(CONDITIONS, f.describe_in(&full, cond))),
                    );
                    None
                }
            }
        }
        _ => None,
    };

    match assembled {
        Some(rule) if errors.is_empty() => Ok(rule),
        _ => Err(errors),
    }
}

/// The Cedar effect of a rule's effect.
fn cedar_effect(e: Effect) -> cedar_policy::Effect {
    match e {
        Effect::Permit => cedar_policy::Effect::Permit,
        Effect::Forbid => cedar_policy::Effect::Forbid,
    }
}

const CONDITIONS: &str = "conditions";
const ACTION_SCOPE_TYPE: &str = "action_scope_type";
const ACTION_IDS: &str = "action_ids";
const ACTION_TYPE: &str = "Action";

/// Field names for one side of the scope, so principal and resource share
/// the validation code without mixing up which field an error belongs to.
struct Side {
    var: &'static str,
    scope_field: &'static str,
    type_field: &'static str,
    id_field: &'static str,
}

const PRINCIPAL: Side = Side {
    var: "principal",
    scope_field: "principal_scope_type",
    type_field: "principal_entity_type",
    id_field: "principal_entity_id",
};

const RESOURCE: Side = Side {
    var: "resource",
    scope_field: "resource_scope_type",
    type_field: "resource_entity_type",
    id_field: "resource_entity_id",
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum EntityScope {
    Any,
    Eq(EntityUid),
    In(EntityUid),
    Is(EntityTypeName),
    IsIn(EntityTypeName, EntityUid),
}

impl EntityScope {
    fn render(&self, var: &str) -> String {
        match self {
            Self::Any => var.to_owned(),
            Self::Eq(uid) => format!("{var} == {uid}"),
            Self::In(uid) => format!("{var} in {uid}"),
            Self::Is(ty) => format!("{var} is {ty}"),
            Self::IsIn(ty, uid) => format!("{var} is {ty} in {uid}"),
        }
    }

    fn principal_constraint(&self) -> PrincipalConstraint {
        match self.clone() {
            Self::Any => PrincipalConstraint::Any,
            Self::Eq(uid) => PrincipalConstraint::Eq(uid),
            Self::In(uid) => PrincipalConstraint::In(uid),
            Self::Is(ty) => PrincipalConstraint::Is(ty),
            Self::IsIn(ty, uid) => PrincipalConstraint::IsIn(ty, uid),
        }
    }

    fn resource_constraint(&self) -> ResourceConstraint {
        match self.clone() {
            Self::Any => ResourceConstraint::Any,
            Self::Eq(uid) => ResourceConstraint::Eq(uid),
            Self::In(uid) => ResourceConstraint::In(uid),
            Self::Is(ty) => ResourceConstraint::Is(ty),
            Self::IsIn(ty, uid) => ResourceConstraint::IsIn(ty, uid),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum ActionScope {
    Any,
    Eq(EntityUid),
    In(Vec<EntityUid>),
}

impl ActionScope {
    fn render(&self) -> String {
        match self {
            Self::Any => "action".to_owned(),
            Self::Eq(uid) => format!("action == {uid}"),
            Self::In(uids) => {
                let list: Vec<String> = uids.iter().map(ToString::to_string).collect();
                format!("action in [{}]", list.join(", "))
            }
        }
    }

    fn constraint(&self) -> ActionConstraint {
        match self.clone() {
            Self::Any => ActionConstraint::Any,
            Self::Eq(uid) => ActionConstraint::Eq(uid),
            Self::In(uids) => ActionConstraint::In(uids),
        }
    }
}

struct Scope {
    effect: Effect,
    principal: EntityScope,
    action: ActionScope,
    resource: EntityScope,
}

/// Assembled text plus where the author's conditions sit inside it, so parse
/// errors can be reported relative to what the author actually wrote.
struct Rendered {
    text: String,
    conditions_start: usize,
}

impl Scope {
    fn render(&self, conditions: Option<&str>) -> Rendered {
        let mut text = format!(
            "{} (\n  {},\n  {},\n  {}\n)\n",
            self.effect.as_str(),
            self.principal.render(PRINCIPAL.var),
            self.action.render(),
            self.resource.render(RESOURCE.var),
        );
        let conditions_start = text.len();
        if let Some(cond) = conditions {
            text.push_str(cond);
            // Own line for `;` so a trailing `//` comment cannot swallow it.
            text.push('\n');
        }
        text.push(';');
        Rendered {
            text,
            conditions_start,
        }
    }
}

fn entity_scope(
    side: &Side,
    scope: ScopeType,
    entity_type: Option<&str>,
    entity_id: Option<&str>,
    errors: &mut Vec<FieldError>,
) -> Option<EntityScope> {
    let before = errors.len();
    let when = format!("when {} is \"{}\"", side.scope_field, scope.as_str());

    let ty = match (scope, entity_type) {
        (ScopeType::Any, None) => None,
        (ScopeType::Any, Some(_)) => {
            errors.push(FieldError::new(
                side.type_field,
                format!("must be absent {when}"),
            ));
            None
        }
        (_, None) => {
            errors.push(FieldError::new(side.type_field, format!("required {when}")));
            None
        }
        (_, Some(raw)) => match EntityTypeName::from_str(raw) {
            Ok(ty) => Some(ty),
            Err(e) => {
                errors.push(FieldError::new(
                    side.type_field,
                    format!(
                        "not a valid Cedar entity type name (identifiers separated by `::`): {}",
                        parse_errors_message(&e)
                    ),
                ));
                None
            }
        },
    };

    let id = match (scope, entity_id) {
        (ScopeType::Any | ScopeType::Is, None) => None,
        (ScopeType::Any | ScopeType::Is, Some(_)) => {
            errors.push(FieldError::new(
                side.id_field,
                format!("must be absent {when}"),
            ));
            None
        }
        (_, None) => {
            errors.push(FieldError::new(side.id_field, format!("required {when}")));
            None
        }
        (ScopeType::Eq | ScopeType::In, Some(raw)) => Some(EntityId::new(raw)),
        // Only `is_in` remains here; its id is a whole reference, parsed below.
        (_, Some(_)) => None,
    };

    let parent = match (scope, entity_id) {
        (ScopeType::IsIn, Some(raw)) => match EntityUid::from_str(raw) {
            Ok(uid) => Some(uid),
            Err(e) => {
                errors.push(FieldError::new(
                    side.id_field,
                    format!(
                        "must be a full entity reference such as Group::\"eng\" {when}: {}",
                        parse_errors_message(&e)
                    ),
                ));
                None
            }
        },
        _ => None,
    };

    if errors.len() > before {
        return None;
    }
    match (scope, ty, id, parent) {
        (ScopeType::Any, ..) => Some(EntityScope::Any),
        (ScopeType::Eq, Some(ty), Some(id), _) => {
            Some(EntityScope::Eq(EntityUid::from_type_name_and_id(ty, id)))
        }
        (ScopeType::In, Some(ty), Some(id), _) => {
            Some(EntityScope::In(EntityUid::from_type_name_and_id(ty, id)))
        }
        (ScopeType::Is, Some(ty), ..) => Some(EntityScope::Is(ty)),
        (ScopeType::IsIn, Some(ty), _, Some(parent)) => Some(EntityScope::IsIn(ty, parent)),
        _ => None,
    }
}

fn action_scope(
    scope: ActionScopeType,
    ids: Option<&[String]>,
    errors: &mut Vec<FieldError>,
) -> Option<ActionScope> {
    let ids = ids.unwrap_or_default();
    let when = format!("when {ACTION_SCOPE_TYPE} is \"{}\"", scope.as_str());
    let count_error = match scope {
        ActionScopeType::Any if !ids.is_empty() => Some(format!("must be absent or empty {when}")),
        ActionScopeType::Eq if ids.len() != 1 => Some(format!(
            "exactly one id required {when} (got {})",
            ids.len()
        )),
        ActionScopeType::In if ids.is_empty() => Some(format!("at least one id required {when}")),
        _ => None,
    };
    if let Some(message) = count_error {
        errors.push(FieldError::new(ACTION_IDS, message));
        return None;
    }

    let action_type = match EntityTypeName::from_str(ACTION_TYPE) {
        Ok(ty) => ty,
        Err(e) => {
            errors.push(FieldError::new(ACTION_IDS, parse_errors_message(&e)));
            return None;
        }
    };
    let uid =
        |id: &String| EntityUid::from_type_name_and_id(action_type.clone(), EntityId::new(id));
    match scope {
        ActionScopeType::Any => Some(ActionScope::Any),
        ActionScopeType::Eq => ids.first().map(|id| ActionScope::Eq(uid(id))),
        ActionScopeType::In => Some(ActionScope::In(ids.iter().map(uid).collect())),
    }
}

/// Checks that the conditions begin with a clause keyword, returning whether
/// any clause is present at all (comment-only conditions are harmless and
/// count as no conditions).
fn clause_prefix(conditions: &str) -> Result<bool, String> {
    let mut rest = conditions;
    loop {
        rest = rest.trim_start();
        match rest.strip_prefix("//") {
            // Cedar ends a line comment at either `\n` or `\r`.
            Some(comment) => rest = comment.find(['\n', '\r']).map_or("", |i| &comment[i..]),
            None => break,
        }
    }
    if rest.is_empty() {
        return Ok(false);
    }
    let starts_with_keyword = |kw: &str| {
        rest.strip_prefix(kw)
            .is_some_and(|after| !after.starts_with(|c: char| c.is_alphanumeric() || c == '_'))
    };
    if starts_with_keyword("when") || starts_with_keyword("unless") {
        Ok(true)
    } else {
        Err("must consist only of `when { ... }` and `unless { ... }` clauses".to_owned())
    }
}

/// One reason the assembled text was not accepted.
enum Failure {
    /// Cedar rejected the text; offsets refer to the assembled text.
    Parse {
        message: String,
        span: Option<(usize, usize)>,
    },
    /// The text parsed, but not into the intended shape.
    Shape(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Self::Parse { message, .. } | Self::Shape(message) => message,
        }
    }

    /// Describes the failure in terms of the author's conditions text rather
    /// than our assembled text, whose first lines the author never saw.
    fn describe_in(&self, rendered: &Rendered, conditions: &str) -> String {
        let Self::Parse {
            message,
            span: Some((offset, length)),
        } = self
        else {
            return self.message().to_owned();
        };
        let Some(relative) = offset.checked_sub(rendered.conditions_start) else {
            return message.clone();
        };
        if relative >= conditions.len() {
            return format!("{message} (at the end of the conditions)");
        }
        let length = (*length).min(conditions.len() - relative);
        match super::validate::locate(conditions, relative, length) {
            Some(loc) => format!("{message} (line {}, column {})", loc.line, loc.column),
            None => message.clone(),
        }
    }
}

fn parse_failures(errors: &ParseErrors) -> Vec<Failure> {
    errors
        .iter()
        .map(|e| {
            let detail = DetailedError::from(e);
            let label = detail.source_locations.first();
            let mut message = e.to_string();
            if let Some(text) = label.and_then(|l| l.label.as_deref()) {
                message = format!("{message}: {text}");
            }
            if let Some(help) = &detail.help {
                message = format!("{message} (help: {help})");
            }
            Failure::Parse {
                message,
                span: label.map(|l| (l.loc.start, l.loc.end.saturating_sub(l.loc.start))),
            }
        })
        .collect()
}

fn parse_errors_message(errors: &ParseErrors) -> String {
    let messages: Vec<String> = parse_failures(errors)
        .iter()
        .map(|f| f.message().to_owned())
        .collect();
    messages.join("; ")
}

/// Parses `text` and proves it is exactly one static policy with the intended
/// id, effect and scope, no annotations, and clauses iff `expects_clauses`.
fn verify(
    text: &str,
    rule_id: &str,
    scope: &Scope,
    expects_clauses: bool,
) -> Result<Policy, Vec<Failure>> {
    limits::on_cedar_stack(|| verify_on_stack(text, rule_id, scope, expects_clauses))
}

fn verify_on_stack(
    text: &str,
    rule_id: &str,
    scope: &Scope,
    expects_clauses: bool,
) -> Result<Policy, Vec<Failure>> {
    // The multi-policy parser is used to count, because the single-policy
    // parser would report a smuggled second policy only as an opaque
    // "unexpected token".
    let set = PolicySet::from_str(text).map_err(|e| parse_failures(&e))?;
    let count = set.num_of_policies() + set.num_of_templates();
    if count != 1 {
        return Err(vec![Failure::Shape(format!(
            "must contain only the `when`/`unless` clauses of this one rule, \
             but the rule text parses as {count} policies"
        ))]);
    }

    let policy =
        Policy::parse(Some(PolicyId::new(rule_id)), text).map_err(|e| parse_failures(&e))?;

    let mut shape = Vec::new();
    if *policy.id() != PolicyId::new(rule_id) {
        shape.push("the rule id was not preserved".to_owned());
    }
    if policy.effect() != cedar_effect(scope.effect) {
        shape.push("must not change the rule's effect".to_owned());
    }
    if policy.principal_constraint() != scope.principal.principal_constraint() {
        shape.push("must not change the principal scope".to_owned());
    }
    if policy.action_constraint() != scope.action.constraint() {
        shape.push("must not change the action scope".to_owned());
    }
    if policy.resource_constraint() != scope.resource.resource_constraint() {
        shape.push("must not change the resource scope".to_owned());
    }
    if policy.annotations().next().is_some() {
        shape.push("must not contain annotations".to_owned());
    }
    match (expects_clauses, policy.has_non_scope_constraint()) {
        (false, true) => shape.push("unexpected `when`/`unless` clause".to_owned()),
        (true, false) => shape.push("the `when`/`unless` clauses were lost".to_owned()),
        _ => {}
    }

    if shape.is_empty() {
        Ok(policy)
    } else {
        Err(shape.into_iter().map(Failure::Shape).collect())
    }
}

/// Attributes a failure of the scope-only text to the scope fields. Typed
/// construction should make this unreachable, so precision matters less than
/// never blaming `conditions` for something the author did not write there.
fn blame_scope(scope: &Scope, rule_id: &str, failures: &[Failure]) -> Vec<FieldError> {
    let detail: Vec<&str> = failures.iter().map(Failure::message).collect();
    let detail = detail.join("; ");
    let probes = [
        (
            PRINCIPAL.scope_field,
            Scope {
                effect: scope.effect,
                principal: scope.principal.clone(),
                action: ActionScope::Any,
                resource: EntityScope::Any,
            },
        ),
        (
            ACTION_SCOPE_TYPE,
            Scope {
                effect: scope.effect,
                principal: EntityScope::Any,
                action: scope.action.clone(),
                resource: EntityScope::Any,
            },
        ),
        (
            RESOURCE.scope_field,
            Scope {
                effect: scope.effect,
                principal: EntityScope::Any,
                action: ActionScope::Any,
                resource: scope.resource.clone(),
            },
        ),
    ];
    let blamed: Vec<FieldError> = probes
        .iter()
        .filter(|(_, probe)| verify(&probe.render(None).text, rule_id, probe, false).is_err())
        .map(|(field, _)| FieldError::new(*field, detail.clone()))
        .collect();
    if blamed.is_empty() {
        vec![FieldError::new(PRINCIPAL.scope_field, detail)]
    } else {
        blamed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn spec() -> RuleSpec {
        RuleSpec {
            rule_id: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".to_owned(),
            effect: Effect::Permit,
            principal_scope_type: ScopeType::Any,
            principal_entity_type: None,
            principal_entity_id: None,
            action_scope_type: ActionScopeType::Any,
            action_ids: None,
            resource_scope_type: ScopeType::Any,
            resource_entity_type: None,
            resource_entity_id: None,
            conditions: None,
        }
    }

    fn uid(ty: &str, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(EntityTypeName::from_str(ty).unwrap(), EntityId::new(id))
    }

    fn ty(name: &str) -> EntityTypeName {
        EntityTypeName::from_str(name).unwrap()
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    fn with_conditions(conditions: &str) -> RuleSpec {
        RuleSpec {
            conditions: Some(conditions.to_owned()),
            ..spec()
        }
    }

    fn assert_single_policy(rule: &AssembledRule) {
        let set = PolicySet::from_str(&rule.text).unwrap();
        assert_eq!(set.num_of_policies(), 1, "{}", rule.text);
        assert_eq!(set.num_of_templates(), 0, "{}", rule.text);
        assert_eq!(rule.policy.annotations().count(), 0);
    }

    const SCOPES: [ScopeType; 5] = [
        ScopeType::Any,
        ScopeType::Eq,
        ScopeType::In,
        ScopeType::Is,
        ScopeType::IsIn,
    ];

    /// Fills the entity fields a scope needs, returning the expected text
    /// fragment and parsed constraint.
    fn entity_fields(
        var: &str,
        scope: ScopeType,
    ) -> (Option<String>, Option<String>, String, EntityScope) {
        let (t, id) = match var {
            "principal" => ("User", "alice"),
            _ => ("Ns::Doc", "d\"1"),
        };
        match scope {
            ScopeType::Any => (None, None, var.to_owned(), EntityScope::Any),
            ScopeType::Eq => (
                Some(t.into()),
                Some(id.into()),
                format!("{var} == {}", uid(t, id)),
                EntityScope::Eq(uid(t, id)),
            ),
            ScopeType::In => (
                Some(t.into()),
                Some(id.into()),
                format!("{var} in {}", uid(t, id)),
                EntityScope::In(uid(t, id)),
            ),
            ScopeType::Is => (
                Some(t.into()),
                None,
                format!("{var} is {t}"),
                EntityScope::Is(ty(t)),
            ),
            ScopeType::IsIn => (
                Some(t.into()),
                Some(r#"Group::"eng""#.into()),
                format!(r#"{var} is {t} in Group::"eng""#),
                EntityScope::IsIn(ty(t), uid("Group", "eng")),
            ),
        }
    }

    #[test]
    fn every_scope_combination_assembles_and_parses_back() {
        let actions = [
            (
                ActionScopeType::Any,
                None,
                "action".to_owned(),
                ActionConstraint::Any,
            ),
            (
                ActionScopeType::Eq,
                Some(vec!["read".to_owned()]),
                r#"action == Action::"read""#.to_owned(),
                ActionConstraint::Eq(uid("Action", "read")),
            ),
            (
                ActionScopeType::In,
                Some(vec!["read".to_owned(), "write".to_owned()]),
                r#"action in [Action::"read", Action::"write"]"#.to_owned(),
                ActionConstraint::In(vec![uid("Action", "read"), uid("Action", "write")]),
            ),
        ];
        let mut checked = 0;
        for effect in [Effect::Permit, Effect::Forbid] {
            for p in SCOPES {
                for (a, ids, a_text, a_constraint) in &actions {
                    for r in SCOPES {
                        let (pt, pid, p_text, p_scope) = entity_fields("principal", p);
                        let (rt, rid, r_text, r_scope) = entity_fields("resource", r);
                        let s = RuleSpec {
                            effect,
                            principal_scope_type: p,
                            principal_entity_type: pt,
                            principal_entity_id: pid,
                            action_scope_type: *a,
                            action_ids: ids.clone(),
                            resource_scope_type: r,
                            resource_entity_type: rt,
                            resource_entity_id: rid,
                            ..spec()
                        };
                        let rule = assemble_rule(&s)
                            .unwrap_or_else(|e| panic!("{p:?} {a:?} {r:?}: {e:?}"));
                        let expected = format!(
                            "{} (\n  {p_text},\n  {a_text},\n  {r_text}\n)\n;",
                            effect.as_str()
                        );
                        assert_eq!(rule.text, expected);
                        assert_eq!(rule.policy.effect(), super::cedar_effect(effect));
                        assert_eq!(
                            rule.policy.principal_constraint(),
                            p_scope.principal_constraint()
                        );
                        assert_eq!(&rule.policy.action_constraint(), a_constraint);
                        assert_eq!(
                            rule.policy.resource_constraint(),
                            r_scope.resource_constraint()
                        );
                        assert_eq!(rule.policy.id(), &PolicyId::new(&s.rule_id));
                        assert!(!rule.policy.has_non_scope_constraint());
                        assert_single_policy(&rule);
                        checked += 1;
                    }
                }
            }
        }
        assert_eq!(checked, 2 * 5 * 3 * 5);
    }

    #[test]
    fn hostile_entity_ids_round_trip_exactly() {
        let ids = [
            "",
            "\"",
            "\\",
            "a\"b\\c",
            "line\nbreak\r\ttab",
            ")",
            ";",
            "//",
            "*/",
            "/*",
            "\") when { true };\npermit(principal, action, resource",
            "\\\"); permit(principal,action,resource); //",
            "é漢字🦀",
            "\u{301}combining first",
            "zero\u{200b}width\u{feff}bom\u{0}nul\u{7f}del",
            "permit",
            "forbid",
            "when",
            "unless",
            "principal",
            "true",
            "in",
            "is",
            "has",
            "like",
            "@id(\"x\")",
            "?principal",
        ];
        for id in ids {
            let s = RuleSpec {
                principal_scope_type: ScopeType::Eq,
                principal_entity_type: Some("User".into()),
                principal_entity_id: Some(id.into()),
                action_scope_type: ActionScopeType::In,
                action_ids: Some(vec![id.into(), "read".into()]),
                resource_scope_type: ScopeType::In,
                resource_entity_type: Some("A::B".into()),
                resource_entity_id: Some(id.into()),
                ..spec()
            };
            let rule = assemble_rule(&s).unwrap_or_else(|e| panic!("{id:?}: {e:?}"));
            let PrincipalConstraint::Eq(p) = rule.policy.principal_constraint() else {
                panic!("principal scope changed for {id:?}");
            };
            assert_eq!(p.id().unescaped(), id);
            let ActionConstraint::In(actions) = rule.policy.action_constraint() else {
                panic!("action scope changed for {id:?}");
            };
            assert_eq!(actions[0].id().unescaped(), id);
            assert_eq!(actions.len(), 2);
            let ResourceConstraint::In(r) = rule.policy.resource_constraint() else {
                panic!("resource scope changed for {id:?}");
            };
            assert_eq!(r.id().unescaped(), id);
            assert_eq!(r.type_name(), &ty("A::B"));
            assert_single_policy(&rule);
        }
    }

    #[test]
    fn is_in_parent_reference_may_itself_contain_escapes() {
        let parent = uid("Org::Group", "a\"b\n;)");
        let s = RuleSpec {
            resource_scope_type: ScopeType::IsIn,
            resource_entity_type: Some("Doc".into()),
            resource_entity_id: Some(parent.to_string()),
            ..spec()
        };
        let rule = assemble_rule(&s).unwrap();
        assert_eq!(
            rule.policy.resource_constraint(),
            ResourceConstraint::IsIn(ty("Doc"), parent)
        );
    }

    #[test]
    fn normal_conditions_are_accepted() {
        let cases = [
            r#"when { context.scopes.contains("read") } unless { principal.department == "finance" }"#,
            "// only readers\nwhen { context.scopes.contains(\"read\") } // trailing comment",
            "  \n\twhen { true }\n  // done",
            r#"unless { context.email like "*@example.com" }"#,
            r#"when { principal has department && principal.department == "a;b}//@" }"#,
            "when { true } when { false } unless { true }",
            "when{true}",
            "when { true } //",
            "// a comment mentioning permit(principal, action, resource);\nwhen { true }",
            "// carriage-return-terminated comment\rwhen { true }",
        ];
        for cond in cases {
            let rule =
                assemble_rule(&with_conditions(cond)).unwrap_or_else(|e| panic!("{cond:?}: {e:?}"));
            assert!(rule.policy.has_non_scope_constraint(), "{cond:?}");
            assert!(rule.text.contains(cond));
            assert!(rule.text.ends_with("\n;"));
            assert_single_policy(&rule);
        }
    }

    #[test]
    fn blank_or_comment_only_conditions_mean_no_clause() {
        for cond in ["", "   ", "\n\t ", "// nothing to see\n", "// a\n// b"] {
            let rule =
                assemble_rule(&with_conditions(cond)).unwrap_or_else(|e| panic!("{cond:?}: {e:?}"));
            assert!(!rule.policy.has_non_scope_constraint(), "{cond:?}");
            assert_single_policy(&rule);
        }
        let blank = assemble_rule(&with_conditions("  ")).unwrap();
        assert_eq!(
            blank.text,
            "permit (\n  principal,\n  action,\n  resource\n)\n;"
        );
    }

    #[test]
    fn smuggling_conditions_are_rejected_on_the_conditions_field() {
        let cases = [
            "when { true }; permit(principal, action, resource)",
            "when { true };\npermit(principal, action, resource) when { true }",
            "when { true }; forbid(principal, action, resource); //",
            ") when { true }",
            ", resource) when { true }",
            "@id(\"x\") when { true }",
            "when { true } @id(\"x\")",
            "when { true",
            "when { true }}",
            "when { { true }",
            "when { true // }",
            "when { true } // ;\npermit(principal, action, resource)",
            "when { true } unless { false // }",
            "// when { true }\n;permit(principal, action, resource)",
            ";",
            "; permit(principal, action, resource)",
            "when { \"unterminated }",
            "when { ?principal == User::\"a\" }",
            "principal == User::\"a\"",
            "true",
            "whenever { true }",
            "when",
            "when {}",
            "when { true };",
            "permit(principal, action, resource) when { true }",
            "when { true } unless",
            "when { __cedar::X::\"a\" == principal }",
        ];
        for cond in cases {
            match assemble_rule(&with_conditions(cond)) {
                Ok(rule) => panic!("{cond:?} accepted:\n{}", rule.text),
                Err(errors) => {
                    assert!(!errors.is_empty());
                    assert!(
                        errors.iter().all(|e| e.field == CONDITIONS),
                        "{cond:?}: {errors:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn prefix_check_gives_the_friendly_message() {
        let errors = assemble_rule(&with_conditions("principal.admin")).unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new(
                CONDITIONS,
                "must consist only of `when { ... }` and `unless { ... }` clauses"
            )]
        );
    }

    #[test]
    fn parse_errors_point_into_the_conditions() {
        let errors = assemble_rule(&with_conditions(
            "when { true }\n  ; permit(principal, action, resource)",
        ))
        .unwrap_err();
        assert_eq!(fields(&errors), [CONDITIONS]);
        assert!(
            errors[0].message.contains("2 policies"),
            "{}",
            errors[0].message
        );

        let errors = assemble_rule(&with_conditions("when {\n  principal.x ==\n}")).unwrap_err();
        assert_eq!(fields(&errors), [CONDITIONS]);
        assert!(
            errors[0].message.contains("line 3, column 1"),
            "{}",
            errors[0].message
        );

        let errors = assemble_rule(&with_conditions("when { true ")).unwrap_err();
        assert!(
            errors[0].message.contains("at the end of the conditions"),
            "{}",
            errors[0].message
        );
    }

    /// Scope, entity type, entity id, and the fields expected to be blamed.
    type ScopeCase = (
        ScopeType,
        Option<&'static str>,
        Option<&'static str>,
        &'static [&'static str],
    );

    #[test]
    fn scope_invariant_violations_name_the_field() {
        let principal_cases: [ScopeCase; 12] = [
            (
                ScopeType::Any,
                Some("User"),
                None,
                &["principal_entity_type"],
            ),
            (ScopeType::Any, None, Some("a"), &["principal_entity_id"]),
            (ScopeType::Eq, None, Some("a"), &["principal_entity_type"]),
            (ScopeType::Eq, Some("User"), None, &["principal_entity_id"]),
            (
                ScopeType::In,
                None,
                None,
                &["principal_entity_type", "principal_entity_id"],
            ),
            (ScopeType::Is, None, None, &["principal_entity_type"]),
            (
                ScopeType::Is,
                Some("User"),
                Some("a"),
                &["principal_entity_id"],
            ),
            (
                ScopeType::IsIn,
                Some("User"),
                None,
                &["principal_entity_id"],
            ),
            (
                ScopeType::IsIn,
                Some("User"),
                Some("eng"),
                &["principal_entity_id"],
            ),
            (
                ScopeType::IsIn,
                Some("User"),
                Some("Group :: \"eng\""),
                &["principal_entity_id"],
            ),
            (
                ScopeType::Eq,
                Some("not valid"),
                Some("a"),
                &["principal_entity_type"],
            ),
            (ScopeType::Is, Some("if"), None, &["principal_entity_type"]),
        ];
        for (scope, t, id, expected) in principal_cases {
            let s = RuleSpec {
                principal_scope_type: scope,
                principal_entity_type: t.map(Into::into),
                principal_entity_id: id.map(Into::into),
                ..spec()
            };
            let errors = assemble_rule(&s).unwrap_err();
            assert_eq!(
                fields(&errors),
                expected,
                "{scope:?} {t:?} {id:?}: {errors:?}"
            );
            // The same checks apply to the resource side with its own names.
            let s = RuleSpec {
                resource_scope_type: scope,
                resource_entity_type: t.map(Into::into),
                resource_entity_id: id.map(Into::into),
                ..spec()
            };
            let errors = assemble_rule(&s).unwrap_err();
            let expected: Vec<String> = expected
                .iter()
                .map(|f| f.replace("principal", "resource"))
                .collect();
            assert_eq!(fields(&errors), expected, "{scope:?} {t:?} {id:?}");
        }

        let errors = assemble_rule(&RuleSpec {
            principal_scope_type: ScopeType::Eq,
            principal_entity_id: Some("a".into()),
            ..spec()
        })
        .unwrap_err();
        assert_eq!(
            errors,
            vec![FieldError::new(
                "principal_entity_type",
                "required when principal_scope_type is \"eq\""
            )]
        );
    }

    #[test]
    fn action_invariant_violations_name_the_field() {
        let cases: [(ActionScopeType, Option<Vec<&str>>, bool); 8] = [
            (ActionScopeType::Any, None, true),
            (ActionScopeType::Any, Some(vec![]), true),
            (ActionScopeType::Any, Some(vec!["a"]), false),
            (ActionScopeType::Eq, None, false),
            (ActionScopeType::Eq, Some(vec!["a", "b"]), false),
            (ActionScopeType::Eq, Some(vec!["a"]), true),
            (ActionScopeType::In, Some(vec![]), false),
            (ActionScopeType::In, Some(vec!["a"]), true),
        ];
        for (scope, ids, ok) in cases {
            let s = RuleSpec {
                action_scope_type: scope,
                action_ids: ids.clone().map(|v| v.into_iter().map(Into::into).collect()),
                ..spec()
            };
            match assemble_rule(&s) {
                Ok(_) => assert!(ok, "{scope:?} {ids:?} accepted"),
                Err(errors) => {
                    assert!(!ok, "{scope:?} {ids:?}: {errors:?}");
                    assert_eq!(fields(&errors), [ACTION_IDS]);
                }
            }
        }
    }

    #[test]
    fn all_field_errors_are_reported_together() {
        let s = RuleSpec {
            principal_scope_type: ScopeType::Eq,
            principal_entity_type: Some("9bad".into()),
            principal_entity_id: None,
            action_scope_type: ActionScopeType::Eq,
            action_ids: None,
            resource_scope_type: ScopeType::Any,
            resource_entity_type: Some("Doc".into()),
            resource_entity_id: None,
            conditions: Some("when { true ".into()),
            ..spec()
        };
        let errors = assemble_rule(&s).unwrap_err();
        assert_eq!(
            fields(&errors),
            [
                "principal_entity_type",
                "principal_entity_id",
                ACTION_IDS,
                "resource_entity_type",
                CONDITIONS
            ]
        );
    }

    #[test]
    fn annotation_like_ids_and_type_names_cannot_add_annotations() {
        let s = RuleSpec {
            principal_scope_type: ScopeType::Is,
            principal_entity_type: Some("User @id(\"x\")".into()),
            ..spec()
        };
        assert_eq!(
            fields(&assemble_rule(&s).unwrap_err()),
            ["principal_entity_type"]
        );
    }

    #[test]
    fn policy_set_text_joins_with_blank_lines() {
        let a = assemble_rule(&spec()).unwrap();
        let b = assemble_rule(&RuleSpec {
            effect: Effect::Forbid,
            ..with_conditions("when { false }")
        })
        .unwrap();
        let text = policy_set_text(&[&a.text, &b.text]);
        assert_eq!(text, format!("{}\n\n{}", a.text, b.text));
        assert_eq!(PolicySet::from_str(&text).unwrap().num_of_policies(), 2);
        assert_eq!(policy_set_text(&[]), "");
    }

    #[test]
    fn scope_types_use_snake_case_on_the_wire() {
        assert_eq!(
            serde_json::to_string(&ScopeType::IsIn).unwrap(),
            "\"is_in\""
        );
        assert_eq!(
            serde_json::from_str::<ActionScopeType>("\"in\"").unwrap(),
            ActionScopeType::In
        );
        assert_eq!(
            serde_json::from_str::<Effect>("\"forbid\"").unwrap(),
            Effect::Forbid
        );
    }

    fn type_name() -> impl Strategy<Value = String> {
        let valid = prop_oneof![
            Just("User".to_owned()),
            Just("A::B::C".to_owned()),
            Just("permit".to_owned()),
            Just("when".to_owned()),
            Just("principal".to_owned()),
            Just("_x9".to_owned()),
            "[A-Za-z_][A-Za-z0-9_]{0,6}(::[A-Za-z_][A-Za-z0-9_]{0,6}){0,2}",
        ];
        let invalid = prop_oneof![
            Just("in".to_owned()),
            Just("true".to_owned()),
            Just("is".to_owned()),
            Just("if".to_owned()),
            Just("__cedar".to_owned()),
            Just("__cedar::User".to_owned()),
            Just("A::".to_owned()),
            Just("::A".to_owned()),
            Just("A :: B".to_owned()),
            Just("User\"".to_owned()),
            Just("User)".to_owned()),
            Just("User, action".to_owned()),
            Just("User @id(\"x\")".to_owned()),
            "[ -~]{0,12}",
            any::<String>(),
        ];
        prop_oneof![8 => valid, 1 => invalid]
    }

    fn entity_id() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[\"\\\\\n);/*@{} a-z]{0,12}",
            Just(r#"Group::"eng""#.to_owned()),
            Just("\") when { true }; permit(principal, action, resource); //".to_owned()),
        ]
    }

    fn conditions() -> impl Strategy<Value = Option<String>> {
        let fragment = prop_oneof![
            Just("}".to_owned()),
            Just("{".to_owned()),
            Just(";".to_owned()),
            Just("permit(".to_owned()),
            Just("forbid(principal, action, resource)".to_owned()),
            Just("@".to_owned()),
            Just("@id(\"x\")".to_owned()),
            Just("//".to_owned()),
            Just("\n".to_owned()),
            Just("\"".to_owned()),
            Just("when {".to_owned()),
            Just("unless {".to_owned()),
            Just("principal ==".to_owned()),
            Just("User::\"a\"".to_owned()),
            Just(")".to_owned()),
            Just(",".to_owned()),
            Just("true".to_owned()),
            Just(" ".to_owned()),
            Just("?principal".to_owned()),
            Just("when { true }".to_owned()),
        ];
        let clause = prop::sample::select(vec![
            "when { true }",
            "unless { false }",
            "when { context.scopes.contains(\"read\") }",
            "unless { principal.department == \"a;b}//@\" }",
            "// note: permit(principal, action, resource);\nwhen { true }",
            "when { true } // trailing",
        ]);
        prop_oneof![
            2 => Just(None),
            1 => any::<String>().prop_map(Some),
            2 => prop::collection::vec(fragment.clone(), 0..10).prop_map(|v| Some(v.concat())),
            5 => (clause, prop::collection::vec(fragment, 0..3))
                .prop_map(|(c, tail)| Some(format!("{c}{}", tail.concat()))),
        ]
    }

    fn scope_type() -> impl Strategy<Value = ScopeType> {
        prop::sample::select(SCOPES.to_vec())
    }

    type SideFields = (ScopeType, Option<String>, Option<String>);

    /// Mostly fills exactly the fields the scope needs, so that most cases get
    /// past field validation and exercise the parse-back checks; the rest are
    /// arbitrary combinations that exercise the field checks.
    fn side() -> impl Strategy<Value = SideFields> {
        (
            scope_type(),
            prop::bool::weighted(0.9),
            type_name(),
            entity_id(),
            prop::bool::weighted(0.85),
            proptest::option::of(type_name()),
            proptest::option::of(entity_id()),
        )
            .prop_map(|(scope, consistent, t, id, parent_is_ref, raw_t, raw_id)| {
                if !consistent {
                    return (scope, raw_t, raw_id);
                }
                match scope {
                    ScopeType::Any => (scope, None, None),
                    ScopeType::Eq | ScopeType::In => (scope, Some(t), Some(id)),
                    ScopeType::Is => (scope, Some(t), None),
                    ScopeType::IsIn if parent_is_ref => {
                        (scope, Some(t), Some(uid("Org::Group", &id).to_string()))
                    }
                    ScopeType::IsIn => (scope, Some(t), Some(id)),
                }
            })
    }

    fn action_side() -> impl Strategy<Value = (ActionScopeType, Option<Vec<String>>)> {
        (
            prop::sample::select(vec![
                ActionScopeType::Any,
                ActionScopeType::Eq,
                ActionScopeType::In,
            ]),
            prop::bool::weighted(0.8),
            prop::collection::vec(entity_id(), 1..4),
            proptest::option::of(prop::collection::vec(entity_id(), 0..3)),
        )
            .prop_map(|(scope, consistent, ids, raw)| {
                if !consistent {
                    return (scope, raw);
                }
                match scope {
                    ActionScopeType::Any => (scope, None),
                    ActionScopeType::Eq => (scope, Some(ids[..1].to_vec())),
                    ActionScopeType::In => (scope, Some(ids)),
                }
            })
    }

    /// Independent oracle for the constraint an accepted spec must produce.
    fn intended_entity(
        scope: ScopeType,
        t: Option<&String>,
        id: Option<&String>,
    ) -> Option<(Option<EntityTypeName>, Option<EntityUid>)> {
        match scope {
            ScopeType::Any => Some((None, None)),
            ScopeType::Eq | ScopeType::In => {
                let t = EntityTypeName::from_str(t?).ok()?;
                Some((
                    None,
                    Some(EntityUid::from_type_name_and_id(t, EntityId::new(id?))),
                ))
            }
            ScopeType::Is => Some((Some(EntityTypeName::from_str(t?).ok()?), None)),
            ScopeType::IsIn => Some((
                Some(EntityTypeName::from_str(t?).ok()?),
                Some(EntityUid::from_str(id?).ok()?),
            )),
        }
    }

    fn expected_principal(
        scope: ScopeType,
        t: Option<EntityTypeName>,
        u: Option<EntityUid>,
    ) -> PrincipalConstraint {
        match (scope, t, u) {
            (ScopeType::Eq, _, Some(u)) => PrincipalConstraint::Eq(u),
            (ScopeType::In, _, Some(u)) => PrincipalConstraint::In(u),
            (ScopeType::Is, Some(t), _) => PrincipalConstraint::Is(t),
            (ScopeType::IsIn, Some(t), Some(u)) => PrincipalConstraint::IsIn(t, u),
            _ => PrincipalConstraint::Any,
        }
    }

    fn expected_resource(
        scope: ScopeType,
        t: Option<EntityTypeName>,
        u: Option<EntityUid>,
    ) -> ResourceConstraint {
        match (scope, t, u) {
            (ScopeType::Eq, _, Some(u)) => ResourceConstraint::Eq(u),
            (ScopeType::In, _, Some(u)) => ResourceConstraint::In(u),
            (ScopeType::Is, Some(t), _) => ResourceConstraint::Is(t),
            (ScopeType::IsIn, Some(t), Some(u)) => ResourceConstraint::IsIn(t, u),
            _ => ResourceConstraint::Any,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn accepted_rules_have_exactly_the_intended_shape(
            forbid in any::<bool>(),
            (p_scope, p_type, p_id) in side(),
            (a_scope, a_ids) in action_side(),
            (r_scope, r_type, r_id) in side(),
            conditions in conditions(),
        ) {
            let s = RuleSpec {
                effect: if forbid { Effect::Forbid } else { Effect::Permit },
                principal_scope_type: p_scope,
                principal_entity_type: p_type.clone(),
                principal_entity_id: p_id.clone(),
                action_scope_type: a_scope,
                action_ids: a_ids.clone(),
                resource_scope_type: r_scope,
                resource_entity_type: r_type.clone(),
                resource_entity_id: r_id.clone(),
                conditions: conditions.clone(),
                ..spec()
            };
            let Ok(rule) = assemble_rule(&s) else {
                return Ok(());
            };
            let set = PolicySet::from_str(&rule.text).unwrap();
            prop_assert_eq!(set.num_of_policies(), 1);
            prop_assert_eq!(set.num_of_templates(), 0);
            let reparsed = set.policies().next().unwrap();
            for policy in [&rule.policy, reparsed] {
                prop_assert_eq!(policy.effect(), super::cedar_effect(s.effect));
                prop_assert_eq!(policy.annotations().count(), 0);
                let (pt, pu) = intended_entity(p_scope, p_type.as_ref(), p_id.as_ref()).unwrap();
                prop_assert_eq!(policy.principal_constraint(), expected_principal(p_scope, pt, pu));
                let (rt, ru) = intended_entity(r_scope, r_type.as_ref(), r_id.as_ref()).unwrap();
                prop_assert_eq!(policy.resource_constraint(), expected_resource(r_scope, rt, ru));
                let ids: Vec<EntityUid> = a_ids
                    .iter()
                    .flatten()
                    .map(|id| uid("Action", id))
                    .collect();
                let expected_action = match a_scope {
                    ActionScopeType::Any => ActionConstraint::Any,
                    ActionScopeType::Eq => ActionConstraint::Eq(ids[0].clone()),
                    ActionScopeType::In => ActionConstraint::In(ids),
                };
                prop_assert_eq!(policy.action_constraint(), expected_action);
                if conditions.as_deref().is_none_or(|c| c.trim().is_empty()) {
                    prop_assert!(!policy.has_non_scope_constraint());
                }
            }
            prop_assert_eq!(rule.policy.id(), &PolicyId::new(&s.rule_id));
        }

        #[test]
        fn well_formed_scopes_are_never_rejected(
            p_scope in scope_type(),
            r_scope in scope_type(),
            p_type in "[A-Z][a-z]{0,5}(::[A-Z][a-z]{0,5}){0,2}",
            id in any::<String>(),
            parent_id in any::<String>(),
            action_ids in prop::collection::vec(any::<String>(), 1..4),
        ) {
            let parent = uid("Group", &parent_id).to_string();
            let fields_for = |scope: ScopeType| match scope {
                ScopeType::Any => (None, None),
                ScopeType::Eq | ScopeType::In => (Some(p_type.clone()), Some(id.clone())),
                ScopeType::Is => (Some(p_type.clone()), None),
                ScopeType::IsIn => (Some(p_type.clone()), Some(parent.clone())),
            };
            let (pt, pid) = fields_for(p_scope);
            let (rt, rid) = fields_for(r_scope);
            let s = RuleSpec {
                principal_scope_type: p_scope,
                principal_entity_type: pt,
                principal_entity_id: pid,
                action_scope_type: ActionScopeType::In,
                action_ids: Some(action_ids.clone()),
                resource_scope_type: r_scope,
                resource_entity_type: rt,
                resource_entity_id: rid,
                ..spec()
            };
            let rule = assemble_rule(&s);
            prop_assert!(rule.is_ok(), "{:?}", rule.err());
            let rule = rule.unwrap();
            let ActionConstraint::In(parsed) = rule.policy.action_constraint() else {
                panic!("action scope changed");
            };
            let parsed: Vec<&str> = parsed.iter().map(|u| u.id().unescaped()).collect();
            prop_assert_eq!(parsed, action_ids.iter().map(String::as_str).collect::<Vec<_>>());
        }
    }
}
