//! Policies as code: the `policies/` directory format — `schema.cedarschema` plus one JSON
//! file per policy, shaped like a `POST /v1/policies` body and named after its `key` — read
//! and written by `grantd policy import|export`. Import upserts by key and is all-or-nothing.

use super::catalog::breakage;
use super::policies::{
    build_new, build_replacement, check_policy, invalid, parse_stored_schema, MAX_ATTEMPTS,
};
use crate::cedar::schema;
use crate::domain::audit::{Actor, EventKind, NewEvent, Subject};
use crate::domain::ids::TenantId;
use crate::domain::policy::{Policy, PolicyCreate};
use crate::error::{Error, Result};
use crate::store::{DynStore, ImportBatch, WriteOutcome};
use chrono::{DateTime, Utc};
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::path::Path;

pub const SCHEMA_FILE: &str = "schema.cedarschema";

/// What a `policies/` directory holds.
#[derive(Debug, Default)]
pub struct PolicyDir {
    pub cedarschema: Option<String>,
    /// `(file name, body)`, in file-name order.
    pub policies: Vec<(String, PolicyCreate)>,
    /// The import goes ahead although the directory's policy tests failed
    /// (`--skip-tests`): said in every event of the import.
    pub skip_tests: bool,
}

/// Reads a policies directory; every unreadable or malformed file is reported at once.
pub fn read_dir(dir: &Path) -> Result<PolicyDir> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::invalid(format!("cannot read {}: {e}", dir.display())))?;
    let mut out = PolicyDir::default();
    let mut problems = Vec::new();
    let mut files: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        if !path.is_file() {
            continue;
        }
        if name == SCHEMA_FILE {
            match std::fs::read_to_string(&path) {
                Ok(t) => out.cedarschema = Some(t),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        } else if name.ends_with(".json") {
            let parsed = std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| serde_json::from_str::<PolicyCreate>(&t).map_err(|e| e.to_string()));
            match parsed {
                Ok(body) => out.policies.push((name, body)),
                Err(e) => problems.push(format!("{name}: {e}")),
            }
        }
    }
    if !problems.is_empty() {
        return Err(Error::invalid_with_notices(
            format!("{}: {}", dir.display(), problems.join("; ")),
            problems,
        ));
    }
    Ok(out)
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub schema_changed: bool,
    /// Lints of the imported policies' rules (`file: rule N: …`; see `service::lint`),
    /// against the tenant's stored policies; they never refuse the import.
    pub warnings: Vec<String>,
}

/// An import event's request, saying when the directory's failing tests were skipped.
fn import_request(mut request: serde_json::Value, dir: &PolicyDir) -> serde_json::Value {
    if dir.skip_tests {
        request["skip_tests"] = json!(true);
    }
    request
}

fn same_content(a: &Policy, b: &Policy) -> bool {
    serde_json::to_value(a.to_create()).ok() == serde_json::to_value(b.to_create()).ok()
}

/// Imports a directory into a tenant: all policies and the schema in one transaction, or
/// nothing. Policies are matched by `key` (required, and equal to the file's name).
pub async fn import(
    store: &DynStore,
    tenant: TenantId,
    actor: Actor,
    dir: &PolicyDir,
    now: DateTime<Utc>,
) -> Result<ImportReport> {
    let mut problems: Vec<String> = Vec::new();
    let mut keys = HashSet::new();
    for (file, body) in &dir.policies {
        match &body.key {
            None => problems.push(format!("{file}: a policy file needs a \"key\"")),
            Some(k) if format!("{k}.json") != *file => {
                problems.push(format!("{file}: key {k:?} does not match the file name"))
            }
            Some(k) if !keys.insert(k.clone()) => {
                problems.push(format!("{file}: key {k:?} appears twice"))
            }
            Some(_) => {}
        }
    }
    if !problems.is_empty() {
        return Err(Error::invalid_with_notices(problems.join("; "), problems));
    }
    let new_schema = match &dir.cedarschema {
        Some(text) => Some((
            text.clone(),
            schema::parse(text).map_err(|n| {
                Error::invalid_with_notices("schema.cedarschema is not valid Cedar", n)
            })?,
        )),
        None => None,
    };
    for _ in 0..MAX_ATTEMPTS {
        let snap = store.config_snapshot(tenant).await?;
        let schema_changed = new_schema
            .as_ref()
            .is_some_and(|(t, _)| *t != snap.cedarschema);
        let schema = match &new_schema {
            Some((_, s)) => s.clone(),
            None => parse_stored_schema(&snap.cedarschema)?,
        };
        let existing: HashMap<String, Policy> = store
            .all_policies(tenant)
            .await?
            .into_iter()
            .filter_map(|p| p.key.clone().map(|k| (k, p)))
            .collect();
        // what the lints compare each imported policy with
        let stored: Vec<Policy> = existing.values().cloned().collect();
        let mut batch = ImportBatch::default();
        let mut report = ImportReport {
            schema_changed,
            ..Default::default()
        };
        let mut problems = Vec::new();
        for (file, body) in &dir.policies {
            let key = body.key.clone().unwrap_or_default();
            let built = match existing.get(&key) {
                None => build_new(body, now),
                Some(current) => {
                    // Rules that did not change keep their ids (matched by position).
                    let mut input = body.clone();
                    for (i, rule) in input.rules.iter_mut().enumerate() {
                        if let Some(old) = current.rules.get(i) {
                            let mut cmp = rule.clone();
                            cmp.id = None;
                            cmp.ordinal = Some(rule.ordinal.unwrap_or(i as i64));
                            cmp.audit_session = Some(rule.audit_session.unwrap_or(false));
                            if serde_json::to_value(&cmp).ok()
                                == serde_json::to_value(old.to_input()).ok()
                            {
                                rule.id = Some(old.id);
                            }
                        }
                    }
                    build_replacement(current, &input, now)
                }
            };
            if !built.errors.is_empty() {
                let e = invalid("policy", built.errors, Vec::new());
                problems.push(format!(
                    "{file}: {}",
                    e.body().notices.unwrap_or_default().join("; ")
                ));
                continue;
            }
            let (diagnostics, cedar_warnings) =
                check_policy(&schema, &built.policy, &built.assembled);
            if diagnostics.is_empty() {
                report.warnings.extend(
                    super::lint::lint(&built.policy, cedar_warnings, &stored)
                        .into_iter()
                        .map(|w| format!("{file}: {}", w.message)),
                );
            }
            problems.extend(diagnostics.into_iter().map(|d| format!("{file}: {d}")));
            match existing.get(&key) {
                Some(current) if same_content(current, &built.policy) => report.unchanged += 1,
                Some(current) => {
                    report.updated += 1;
                    batch.events.push(
                        NewEvent::new(now, actor.clone(), EventKind::PolicyUpdate, Subject::new("policy", current.id))
                            .with_request(import_request(json!({"version": built.policy.version, "policy": built.policy.to_create(), "import": file}), dir)),
                    );
                    batch.update.push((built.policy, current.version));
                }
                None => {
                    report.created += 1;
                    batch.events.push(
                        NewEvent::new(now, actor.clone(), EventKind::PolicyCreate, Subject::new("policy", built.policy.id))
                            .with_request(import_request(json!({"version": 1, "policy": built.policy.to_create(), "import": file}), dir)),
                    );
                    batch.create.push(built.policy);
                }
            }
        }
        if schema_changed {
            // Policies not in the import, and stored entities, must survive the new schema.
            let imported: HashSet<&String> = keys.iter().collect();
            for p in breakage(store, tenant, &schema).await? {
                let about_imported = imported
                    .iter()
                    .any(|k| p.starts_with(&format!("policy {k}: ")));
                if !about_imported {
                    problems.push(p);
                }
            }
            let (text, _) = new_schema
                .as_ref()
                .expect("schema_changed implies a new schema");
            batch.cedarschema = Some(text.clone());
            batch.events.insert(
                0,
                NewEvent::new(
                    now,
                    actor.clone(),
                    EventKind::SchemaUpdate,
                    Subject::new("schema", tenant),
                )
                .with_request(import_request(json!({ "cedarschema": text }), dir)),
            );
        } else if let Some((_, s)) = &new_schema {
            problems.extend(schema::check_grantd_requirements(s));
        }
        if !problems.is_empty() {
            return Err(Error::invalid_with_notices(
                format!(
                    "import refused, nothing was changed: {}",
                    problems.join("; ")
                ),
                problems,
            ));
        }
        if batch.events.is_empty() {
            return Ok(report);
        }
        match store.import(tenant, snap.revision, batch).await? {
            WriteOutcome::Committed(_) => return Ok(report),
            _ => continue,
        }
    }
    Err(super::policies::stale_error())
}

/// Writes a tenant's schema and its policies (one `<key>.json` each) into `dir`.
/// Policies without a key cannot be named in this format; they are returned, not written.
pub async fn export(
    store: &DynStore,
    tenant: TenantId,
    dir: &Path,
) -> Result<(usize, Vec<String>)> {
    let schema = store.get_schema(tenant).await?;
    let policies = store.all_policies(tenant).await?;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::invalid(format!("cannot create {}: {e}", dir.display())))?;
    let write = |name: &str, text: &str| {
        std::fs::write(dir.join(name), text)
            .map_err(|e| Error::invalid(format!("cannot write {}: {e}", dir.join(name).display())))
    };
    write(SCHEMA_FILE, &schema)?;
    let mut written = 0;
    let mut skipped = Vec::new();
    for p in policies {
        match &p.key {
            Some(k) => {
                let text = serde_json::to_string_pretty(&p.to_create()).map_err(Error::internal)?;
                write(&format!("{k}.json"), &format!("{text}\n"))?;
                written += 1;
            }
            None => skipped.push(p.id.to_string()),
        }
    }
    Ok((written, skipped))
}
