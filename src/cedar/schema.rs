//! A tenant's schema: parsing it with every diagnostic, and checking that it still offers
//! what grantd itself relies on (the `request`/`extend` actions on users and apps or
//! entitlements, and the `GrantContext` fields grantd fills in).

use cedar_policy::{Context, EntityUid, Request, Schema};
use serde_json::json;
use std::str::FromStr;

/// Parses an author's Cedar schema text; on failure, one message per Cedar diagnostic.
pub fn parse(text: &str) -> Result<Schema, Vec<String>> {
    // What breaks a limit is refused before Cedar's (recursive) parser sees it.
    super::limits::check_text(text, super::limits::Text::Schema)
        .map_err(|m| vec![format!("schema: {m}")])?;
    super::limits::on_cedar_stack(|| parse_on_stack(text))
}

/// `parse` for a stored schema, held to what Cedar can parse safely rather than to what
/// an author may write now.
pub fn parse_stored(text: &str) -> Result<Schema, Vec<String>> {
    super::limits::check_stored(text, super::limits::Text::Schema)
        .map_err(|m| vec![format!("schema: {m}")])?;
    super::limits::on_cedar_stack(|| parse_on_stack(text))
}

fn parse_on_stack(text: &str) -> Result<Schema, Vec<String>> {
    match Schema::from_cedarschema_str(text) {
        Ok((schema, _warnings)) => Ok(schema),
        Err(e) => {
            let d = cedar_policy::ffi::DetailedError::from(&e);
            let mut msgs = vec![format!("schema: {}", d.message)];
            if let Some(help) = d.help {
                msgs[0].push_str(&format!("; help: {help}"));
            }
            for l in d.source_locations {
                let start = l.loc.start;
                let (line, col) = line_col(text, start);
                msgs.push(format!(
                    "schema: at line {line}, column {col}{}",
                    l.label.map(|s| format!(": {s}")).unwrap_or_default()
                ));
            }
            Err(msgs)
        }
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, col)
}

/// The contexts grantd builds: with and without the asked-for durations.
fn grant_contexts() -> [serde_json::Value; 2] {
    [
        json!({"duration_seconds": 3600, "total_duration_seconds": 3600,
               "scopes": ["read"], "reason": "r", "extension_count": 0}),
        json!({"scopes": [], "reason": "", "extension_count": 0}),
    ]
}

/// Whether `schema` accepts a request of `action` by `principal` on `resource` with `ctx`.
fn fits(
    schema: &Schema,
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    ctx: serde_json::Value,
) -> Result<(), String> {
    let c = Context::from_json_value(ctx, Some((schema, action))).map_err(|e| e.to_string())?;
    Request::new(
        principal.clone(),
        action.clone(),
        resource.clone(),
        c,
        Some(schema),
    )
    .map(|_| ())
    .map_err(|e| e.to_string())
}

/// Everything in `schema` that would break grantd's own requests, as messages.
pub fn check_grantd_requirements(schema: &Schema) -> Vec<String> {
    let mut problems = Vec::new();
    let principal = EntityUid::from_str(r#"User::"grantd-check""#).expect("static uid");
    for action in ["request", "extend"] {
        let action_uid =
            EntityUid::from_str(&format!(r#"Action::"{action}""#)).expect("static uid");
        for resource_type in ["App", "Entitlement"] {
            let resource = EntityUid::from_str(&format!(r#"{resource_type}::"grantd-check""#))
                .expect("static uid");
            for ctx in grant_contexts() {
                if let Err(e) = fits(schema, &principal, &action_uid, &resource, ctx) {
                    problems.push(format!(
                        "schema: action \"{action}\" must apply to principal User and resource \
                         {resource_type} with the GrantContext grantd fills in \
                         (duration_seconds?: Long, total_duration_seconds?: Long, \
                         scopes: Set<String>, reason: String, extension_count: Long): {e}"
                    ));
                    break;
                }
            }
        }
    }
    problems.dedup();
    problems
}

/// Everything in `schema` that would keep a policy's `approval` from working: the
/// `approve` and `self_approve` actions on users and apps or entitlements with the
/// `ApprovalContext` grantd fills in, and an `approvers` entity type the schema declares.
pub fn check_approval_requirements(
    schema: &Schema,
    approvers: Option<&crate::domain::decision::EntityRef>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let principal = EntityUid::from_str(r#"User::"grantd-check""#).expect("static uid");
    let ctx = json!({"requester": {"__entity": {"type": "User", "id": "grantd-check"}},
        "requested_by": "", "approvals": 0, "required_approvals": 1, "duration_seconds": 60,
        "total_duration_seconds": 60, "scopes": [], "reason": "", "extension_count": 0});
    for action in ["approve", "self_approve"] {
        let action_uid =
            EntityUid::from_str(&format!(r#"Action::"{action}""#)).expect("static uid");
        for resource_type in ["App", "Entitlement"] {
            let resource = EntityUid::from_str(&format!(r#"{resource_type}::"grantd-check""#))
                .expect("static uid");
            if let Err(e) = fits(schema, &principal, &action_uid, &resource, ctx.clone()) {
                problems.push(format!(
                    "approval: the schema's action \"{action}\" must apply to principal User and \
                     resource {resource_type} with the ApprovalContext grantd fills in (see \
                     policies/schema.cedarschema): {e}"
                ));
                break;
            }
        }
    }
    if let Some(a) = approvers {
        let declared = schema.entity_types().any(|t| t.to_string() == a.etype);
        if !declared {
            problems.push(format!(
                "approval.approvers.type: the schema declares no entity type {:?}",
                a.etype
            ));
        }
    }
    problems
}

/// A stored schema, parsed: one that no longer parses (or breaks a limit added since it
/// was stored) fails its tenant closed with `PolicySetInvalid`.
pub fn parse_stored_schema(text: &str) -> crate::error::Result<cedar_policy::Schema> {
    parse_stored(text).map_err(|e| {
        crate::error::Error::PolicySetInvalid(format!(
            "the stored schema does not parse: {}",
            e.join("; ")
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_schema() -> String {
        std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/policies/schema.cedarschema"
        ))
        .unwrap()
    }

    #[test]
    fn the_default_schema_meets_the_requirements() {
        let s = parse(&default_schema()).unwrap();
        assert_eq!(check_grantd_requirements(&s), Vec::<String>::new());
    }

    #[test]
    fn an_extended_schema_still_does() {
        let text = default_schema().replace(
            "entity App;",
            "entity App { owner?: String };\nentity Device;",
        ) + "\naction read appliesTo { principal: [User], resource: [App] };\n";
        let s = parse(&text).unwrap();
        assert!(check_grantd_requirements(&s).is_empty());
    }

    #[test]
    fn dropping_what_grantd_fills_in_is_reported() {
        let cases = [
            (
                "  extension_count: Long,         // extensions granted so far; 0 on request\n",
                "",
            ),
            (
                "action request, extend appliesTo",
                "action request appliesTo",
            ),
            ("  reason: String,", "  reason: Long,"),
            ("  duration_seconds?: Long,", "  duration_seconds: Long,"),
            ("resource: [App, Entitlement]", "resource: [App]"),
        ];
        for (from, to) in cases {
            let text = default_schema().replace(from, to);
            assert_ne!(text, default_schema(), "{from}");
            let problems = match parse(&text) {
                Ok(s) => check_grantd_requirements(&s),
                Err(e) => e,
            };
            assert!(!problems.is_empty(), "{from} -> {to} was accepted");
        }
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let e = parse("entity User in [;").unwrap_err();
        assert!(e.iter().any(|m| m.contains("line 1")), "{e:?}");
    }
}
