//! Schema validation of assembled rules, with diagnostics that point into
//! each rule's own text.
//!
//! Rules are parsed one at a time (see `super::assemble`), so every source
//! span Cedar reports is relative to that single rule's text, which the
//! parsed `Policy` keeps and returns from `to_cedar()`.

use std::collections::HashMap;
use std::fmt::Write as _;

use cedar_policy::ffi::DetailedError;
use cedar_policy::{Policy, PolicyId, PolicySet, Schema, ValidationMode, Validator};
use serde::{Deserialize, Serialize};

/// A span in one rule's text. `line` and `column` are 1-based, with columns
/// counted in characters; `offset` and `length` are in bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLocation {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub length: usize,
    pub snippet: String,
}

/// One validation problem. The caller maps `rule_id` to whatever ordinal it
/// shows authors, since only it knows the rule order of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    pub rule_id: String,
    pub message: String,
    pub location: Option<SourceLocation>,
}

/// Validates the rules together in strict mode and reports every error.
///
/// Warnings are not reported (see [`check_rules`]). Note that in cedar-policy 4.x
/// a scope that no action in the schema can apply to (e.g. a resource type the
/// action does not accept) is only a warning, so it passes here.
///
/// # Errors
///
/// Every validation error, plus any rule that could not join the set (e.g. a
/// duplicate rule id), ordered by the rules' position in `rules`.
pub fn validate_rules(schema: &Schema, rules: &[(&str, &Policy)]) -> Result<(), Vec<Diagnostic>> {
    let checked = check_rules(schema, rules);
    if checked.errors.is_empty() {
        Ok(())
    } else {
        Err(checked.errors)
    }
}

/// What one validation of rules found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checked {
    /// As [`validate_rules`] reports them.
    pub errors: Vec<Diagnostic>,
    /// The validator's warnings (each with the caller's rule id): a rule no request of
    /// the schema can match (an impossible policy), confusable or bidirectional text.
    pub warnings: Vec<Diagnostic>,
}

/// [`validate_rules`], keeping the validator's warnings too: one validation for both.
pub fn check_rules(schema: &Schema, rules: &[(&str, &Policy)]) -> Checked {
    // Diagnostics are sorted by (rule position, offset) at the end, because the
    // validator's iteration order over the set is not the caller's order.
    let mut found: Vec<((usize, usize), Diagnostic)> = Vec::new();
    let mut positions: HashMap<PolicyId, usize> = HashMap::new();
    let mut set = PolicySet::new();

    for (position, (rule_id, policy)) in rules.iter().enumerate() {
        // The caller's rule id is authoritative for reporting, so the policy
        // is re-keyed rather than trusting whatever id it was parsed with.
        let id = PolicyId::new(rule_id);
        match set.add(policy.new_id(id.clone())) {
            Ok(()) => {
                positions.insert(id, position);
            }
            Err(e) => found.push((
                (position, 0),
                Diagnostic {
                    rule_id: (*rule_id).to_owned(),
                    message: e.to_string(),
                    location: None,
                },
            )),
        }
    }

    let result = super::limits::on_cedar_stack(|| {
        Validator::new(schema.clone()).validate(&set, ValidationMode::Strict)
    });
    for error in result.validation_errors() {
        let position = positions.get(error.policy_id()).copied();
        let rule = position.and_then(|p| rules.get(p));
        let text = rule.and_then(|(_, policy)| policy.to_cedar());
        let detail = DetailedError::from(error);
        let location = text.as_deref().and_then(|text| {
            detail.source_locations.iter().find_map(|label| {
                locate(
                    text,
                    label.loc.start,
                    label.loc.end.saturating_sub(label.loc.start),
                )
            })
        });
        let message = match &detail.help {
            Some(help) => format!("{error}; help: {help}"),
            None => error.to_string(),
        };
        let key = (
            position.unwrap_or(usize::MAX),
            location.as_ref().map_or(0, |l| l.offset),
        );
        found.push((
            key,
            Diagnostic {
                rule_id: rule.map_or_else(
                    || error.policy_id().to_string(),
                    |(rule_id, _)| (*rule_id).to_owned(),
                ),
                message,
                location,
            },
        ));
    }

    // Ties (one place, several actions) by message: the validator's order among them is
    // not stable from one run to the next, and a write must answer alike every time.
    found.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.message.cmp(&y.message)));
    let mut warnings: Vec<Diagnostic> = result
        .validation_warnings()
        .map(|w| Diagnostic {
            rule_id: w.policy_id().to_string(),
            message: w.to_string(),
            location: None,
        })
        .collect();
    warnings.sort_by(|a, b| (&a.rule_id, &a.message).cmp(&(&b.rule_id, &b.message)));
    Checked {
        errors: found.into_iter().map(|(_, d)| d).collect(),
        warnings,
    }
}

/// Computes the location of a byte span, or `None` if the span does not lie
/// on character boundaries inside `text` (i.e. it was not taken from `text`).
#[must_use]
pub fn locate(text: &str, offset: usize, length: usize) -> Option<SourceLocation> {
    let end = offset.checked_add(length)?;
    let snippet = text.get(offset..end)?;
    let before = text.get(..offset)?;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Some(SourceLocation {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
        offset,
        length,
        snippet: snippet.to_owned(),
    })
}

const SNIPPET_MAX_CHARS: usize = 60;

/// Renders a diagnostic as a single line for notices and logs, e.g.
/// ``rule 2 (0190...): attribute `foo` ... at line 5, column 12: `context.foo` ``.
#[must_use]
pub fn format_diagnostic(d: &Diagnostic, ordinal: usize) -> String {
    let mut line = format!(
        "rule {ordinal} ({}): {}",
        d.rule_id,
        single_line(&d.message, usize::MAX)
    );
    if let Some(loc) = &d.location {
        // Writing into a String cannot fail.
        let _ = write!(line, " at line {}, column {}", loc.line, loc.column);
        let snippet = single_line(&loc.snippet, SNIPPET_MAX_CHARS);
        if !snippet.is_empty() {
            let _ = write!(line, ": `{snippet}`");
        }
    }
    line
}

/// Collapses whitespace runs (including newlines) so multi-line spans and
/// messages cannot break a one-line notice, truncating with an ellipsis.
fn single_line(s: &str, max_chars: usize) -> String {
    let collapsed = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max_chars {
        return collapsed;
    }
    let mut cut: String = collapsed
        .chars()
        .take(max_chars.saturating_sub(1))
        .collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::super::assemble::{assemble_rule, ActionScopeType, Effect, RuleSpec, ScopeType};
    use super::*;
    use std::str::FromStr;

    const SCHEMA: &str = r#"
        entity Group in [Group];
        entity User in [Group] { department?: String };
        entity App;
        action request appliesTo {
            principal: [User],
            resource: [App],
            context: { scopes: Set<String> }
        };
    "#;

    fn schema() -> Schema {
        Schema::from_str(SCHEMA).unwrap()
    }

    fn rule(id: &str, conditions: &str) -> Policy {
        let spec = RuleSpec {
            rule_id: id.to_owned(),
            effect: Effect::Permit,
            principal_scope_type: ScopeType::IsIn,
            principal_entity_type: Some("User".into()),
            principal_entity_id: Some(r#"Group::"eng""#.into()),
            action_scope_type: ActionScopeType::Eq,
            action_ids: Some(vec!["request".into()]),
            resource_scope_type: ScopeType::Is,
            resource_entity_type: Some("App".into()),
            resource_entity_id: None,
            conditions: Some(conditions.to_owned()),
        };
        assemble_rule(&spec).unwrap().policy
    }

    const VALID: &str = r#"when { context.scopes.contains("read") }
unless { principal has department && principal.department == "finance" }"#;

    #[test]
    fn valid_rules_pass() {
        let a = rule("0190-a", VALID);
        let b = rule("0190-b", "");
        validate_rules(&schema(), &[("0190-a", &a), ("0190-b", &b)]).unwrap();
    }

    #[test]
    fn unknown_attribute_is_reported_with_rule_id_and_position() {
        let ok = rule("0190-ok", VALID);
        let bad = rule("0190-bad", "// scopes check\nwhen {\n  context.foo == 1\n}");
        let diagnostics =
            validate_rules(&schema(), &[("0190-ok", &ok), ("0190-bad", &bad)]).unwrap_err();
        assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
        let d = &diagnostics[0];
        assert_eq!(d.rule_id, "0190-bad");
        assert!(d.message.contains("foo"), "{}", d.message);
        let loc = d.location.as_ref().expect("location");
        // Lines 1-5 are the assembled scope, so the conditions start on line 6.
        assert_eq!((loc.line, loc.column), (8, 3), "{loc:?}");
        assert_eq!(loc.snippet, "context.foo");
        assert_eq!(
            &bad.to_cedar().unwrap()[loc.offset..loc.offset + loc.length],
            "context.foo"
        );
        let notice = format_diagnostic(d, 2);
        assert!(notice.starts_with("rule 2 (0190-bad): "), "{notice}");
        assert!(
            notice.ends_with(" at line 8, column 3: `context.foo`"),
            "{notice}"
        );
        assert!(!notice.contains('\n'));
    }

    #[test]
    fn type_errors_and_unsafe_optional_access_are_reported() {
        let wrong_type = rule("r-type", "when { principal.department == 42 }");
        let optional = rule("r-opt", "when { principal.department == \"x\" }");
        let diagnostics =
            validate_rules(&schema(), &[("r-type", &wrong_type), ("r-opt", &optional)])
                .unwrap_err();
        let ids: Vec<&str> = diagnostics.iter().map(|d| d.rule_id.as_str()).collect();
        assert!(
            ids.contains(&"r-type") && ids.contains(&"r-opt"),
            "{diagnostics:?}"
        );
        // Ordered by the caller's rule order, not the validator's.
        assert_eq!(ids.first(), Some(&"r-type"));
        for d in &diagnostics {
            let loc = d.location.as_ref().expect("location");
            assert_eq!(loc.line, 6, "{d:?}");
            assert!(loc.snippet.contains("principal.department"), "{d:?}");
        }
        let optional_diag = diagnostics.iter().find(|d| d.rule_id == "r-opt").unwrap();
        assert!(optional_diag.message.contains("help:"), "{optional_diag:?}");
    }

    #[test]
    fn unknown_entity_type_and_action_are_reported() {
        let spec = RuleSpec {
            rule_id: "r1".into(),
            effect: Effect::Forbid,
            principal_scope_type: ScopeType::Eq,
            principal_entity_type: Some("Robot".into()),
            principal_entity_id: Some("r2d2".into()),
            action_scope_type: ActionScopeType::Eq,
            action_ids: Some(vec!["fly".into()]),
            resource_scope_type: ScopeType::Any,
            resource_entity_type: None,
            resource_entity_id: None,
            conditions: None,
        };
        let policy = assemble_rule(&spec).unwrap().policy;
        let diagnostics = validate_rules(&schema(), &[("r1", &policy)]).unwrap_err();
        assert!(diagnostics.len() >= 2, "{diagnostics:?}");
        let lines: Vec<usize> = diagnostics
            .iter()
            .map(|d| d.location.as_ref().expect("location").line)
            .collect();
        assert!(lines.contains(&2) && lines.contains(&3), "{diagnostics:?}");
    }

    #[test]
    fn duplicate_rule_ids_are_reported_not_dropped() {
        let a = rule("same", VALID);
        let diagnostics = validate_rules(&schema(), &[("same", &a), ("same", &a)]).unwrap_err();
        assert_eq!(diagnostics.len(), 1);
        assert_eq!(diagnostics[0].rule_id, "same");
        assert!(diagnostics[0].location.is_none());
    }

    #[test]
    fn locate_counts_lines_and_characters() {
        let text = "ab\nçd ef\n";
        let loc = locate(text, 7, 2).unwrap();
        assert_eq!((loc.line, loc.column, loc.snippet.as_str()), (2, 4, "ef"));
        assert_eq!(locate(text, 0, 0).unwrap().line, 1);
        assert!(locate(text, 4, 1).is_none(), "inside a multi-byte char");
        assert!(locate(text, 10, 1).is_none(), "past the end");
        assert!(locate(text, usize::MAX, 2).is_none());
    }

    #[test]
    fn format_diagnostic_stays_on_one_line() {
        let d = Diagnostic {
            rule_id: "id".into(),
            message: "first\nsecond".into(),
            location: Some(SourceLocation {
                line: 1,
                column: 2,
                offset: 1,
                length: 100,
                snippet: format!("a\n  b{}", "x".repeat(100)),
            }),
        };
        let line = format_diagnostic(&d, 1);
        assert!(!line.contains('\n'), "{line}");
        assert!(line.starts_with("rule 1 (id): first second at line 1, column 2: `a b"));
        assert!(line.ends_with("…`"), "{line}");
        let bare = Diagnostic {
            location: None,
            ..d
        };
        assert_eq!(format_diagnostic(&bare, 3), "rule 3 (id): first second");
    }
}
