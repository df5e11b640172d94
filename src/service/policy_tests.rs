//! Policy tests as code: cases of a request and the decision expected of it, kept beside
//! the policies (`policies/tests/*.json`) and run offline by `grantd policy test DIR` (the
//! schema, entities and policies of DIR compiled exactly as the server compiles a tenant,
//! with no server and no database), before `grantd policy import`, and against a tenant's
//! stored set by `POST /v1/policies/test`.
//!
//! A test file is a JSON array of [`Case`]s. A case passes when the decision is the one it
//! expects and, where it says so, the deny reason and the set of policy keys that
//! determined the decision are those too.

use super::decisions::decide_one;
use super::import::{read_dir, PolicyDir};
use super::policies::{build_new, invalid, validate_policy};
use crate::cedar::engine::{compile, CompiledSet};
use crate::cedar::limits;
use crate::domain::config::{EntityRow, TenantConfig};
use crate::domain::decision::{AuthorizeRequest, DecisionBody, EntityRef};
use crate::error::{Error, Result};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The directory of test files inside a policies directory.
pub const TESTS_DIR: &str = "tests";
/// The directory of entity files inside a policies directory (Cedar JSON arrays).
pub const ENTITIES_DIR: &str = "entities";
/// Most cases one run takes (a file, or a `POST /v1/policies/test` body).
pub const MAX_CASES: usize = 1000;

/// One request and what is expected of it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Case {
    /// Shown in reports; default: the case's place (`file.json#3`, or `cases[3]`).
    #[serde(default)]
    pub name: Option<String>,
    pub principal: EntityRef,
    pub action: EntityRef,
    pub resource: EntityRef,
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub context: Option<Value>,
    /// Entities for this case only, as `POST /v1/authorize` takes them.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub entities: Option<Vec<Value>>,
    /// `allow` or `deny`.
    pub decision: String,
    /// When given: `forbid`, `no_permit` or `error`.
    #[serde(default)]
    pub deny_reason: Option<String>,
    /// When given: the keys of the policies whose rules determined the decision, in any
    /// order (a stored policy without a key is named by its id).
    #[serde(default)]
    pub determining: Option<Vec<String>>,
}

/// How one case went.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    /// What was decided (absent when the request itself was refused).
    pub decision: Option<String>,
    pub deny_reason: Option<String>,
    /// The keys (or ids) of the determining policies, sorted.
    pub determining: Vec<String>,
    /// Rules that failed to evaluate (a case fails on them unless it expects
    /// `deny_reason: "error"`).
    pub errors: Vec<String>,
    /// Why it failed; absent when it passed.
    pub failure: Option<String>,
}

/// A run's results.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub passed: usize,
    pub failed: usize,
    pub results: Vec<CaseResult>,
}

impl Report {
    fn of(results: Vec<CaseResult>) -> Self {
        let passed = results.iter().filter(|r| r.passed).count();
        Report {
            passed,
            failed: results.len() - passed,
            results,
        }
    }
}

/// Runs `cases` (named by `names`) against `set`, whose policies' keys by id are `keys`.
pub fn run(set: &CompiledSet, keys: &HashMap<String, String>, cases: &[(String, Case)]) -> Report {
    run_until(set, keys, cases, None)
}

/// How long `POST /v1/policies/test` may decide: rules can be slow to evaluate (long
/// literal sets, say). Cases not run by then fail, saying so: a run cut short never passes.
pub const TEST_BUDGET: std::time::Duration = std::time::Duration::from_secs(10);

/// [`run`], failing the cases not reached by `deadline`.
pub fn run_until(
    set: &CompiledSet,
    keys: &HashMap<String, String>,
    cases: &[(String, Case)],
    deadline: Option<std::time::Instant>,
) -> Report {
    Report::of(
        cases
            .iter()
            .map(|(name, case)| {
                if deadline.is_some_and(|d| std::time::Instant::now() > d) {
                    return CaseResult {
                        name: name.clone(),
                        passed: false,
                        decision: None,
                        deny_reason: None,
                        determining: Vec::new(),
                        errors: Vec::new(),
                        failure: Some(format!(
                            "not run: the run's {} s budget ran out",
                            TEST_BUDGET.as_secs()
                        )),
                    };
                }
                run_case(set, keys, name, case)
            })
            .collect(),
    )
}

fn run_case(
    set: &CompiledSet,
    keys: &HashMap<String, String>,
    name: &str,
    case: &Case,
) -> CaseResult {
    let req = AuthorizeRequest {
        principal: case.principal.clone(),
        action: case.action.clone(),
        resource: case.resource.clone(),
        context: case.context.clone(),
        entities: case.entities.clone(),
        min_policy_set_version: None,
    };
    let decided: Result<DecisionBody> = limits::on_cedar_stack(|| decide_one(set, &req));
    let d = match decided {
        Ok(d) => d,
        Err(e) => {
            return CaseResult {
                name: name.to_string(),
                passed: false,
                decision: None,
                deny_reason: None,
                determining: Vec::new(),
                errors: Vec::new(),
                failure: Some(format!("the request is refused: {e}")),
            }
        }
    };
    let mut determining: Vec<String> = d
        .determining
        .iter()
        .map(|x| {
            keys.get(&x.policy_id)
                .cloned()
                .unwrap_or(x.policy_id.clone())
        })
        .collect();
    determining.sort();
    determining.dedup();
    let mut wrong = Vec::new();
    if !d.errors.is_empty() && case.deny_reason.as_deref() != Some("error") {
        wrong.push(format!("rules failed to evaluate: {}", d.errors.join("; ")));
    }
    if d.decision != case.decision {
        wrong.push(format!("expected {}, got {}", case.decision, d.decision));
    }
    if let Some(want) = &case.deny_reason {
        if d.deny_reason.as_deref() != Some(want.as_str()) {
            wrong.push(format!(
                "expected deny_reason {want}, got {}",
                d.deny_reason.as_deref().unwrap_or("none")
            ));
        }
    }
    if let Some(want) = &case.determining {
        let mut want = want.clone();
        want.sort();
        want.dedup();
        if want != determining {
            wrong.push(format!(
                "expected determining policies [{}], got [{}]",
                want.join(", "),
                determining.join(", ")
            ));
        }
    }
    CaseResult {
        name: name.to_string(),
        passed: wrong.is_empty(),
        decision: Some(d.decision),
        deny_reason: d.deny_reason,
        determining,
        errors: d.errors,
        failure: (!wrong.is_empty()).then(|| wrong.join("; ")),
    }
}

/// Checks a run's cases before anything is decided: a known decision and deny reason, and
/// at most [`MAX_CASES`].
pub fn check_cases(cases: &[(String, Case)]) -> Result<()> {
    if cases.len() > MAX_CASES {
        return Err(Error::invalid(format!(
            "at most {MAX_CASES} cases per run, got {}",
            cases.len()
        )));
    }
    for (name, c) in cases {
        if !matches!(c.decision.as_str(), "allow" | "deny") {
            return Err(Error::invalid(format!(
                "{name}: decision must be \"allow\" or \"deny\", got {:?}",
                c.decision
            )));
        }
        if let Some(r) = &c.deny_reason {
            if !matches!(r.as_str(), "forbid" | "no_permit" | "error") {
                return Err(Error::invalid(format!(
                    "{name}: deny_reason must be forbid, no_permit or error, got {r:?}"
                )));
            }
        }
    }
    Ok(())
}

/// What a policies directory compiles to, with its policies' keys by id.
pub struct DirSet {
    pub set: CompiledSet,
    pub keys: HashMap<String, String>,
}

/// Compiles a policies directory as the server would compile a tenant holding exactly
/// its schema, its enabled policies and the entities of its `entities/*.json`, with the
/// checks `grantd policy import` and `PUT /v1/entities` make (keys equal to file names and
/// unique, the schema's limits and grantd's requirements, every validation diagnostic,
/// entity names, types and ancestry). `Ok(None)`: the directory has no schema.
pub fn compile_dir(dir: &Path, files: &PolicyDir) -> Result<Option<DirSet>> {
    let Some(cedarschema) = files.cedarschema.clone() else {
        return Ok(None);
    };
    let schema = crate::cedar::schema::parse(&cedarschema)
        .map_err(|n| Error::invalid_with_notices("schema.cedarschema is not valid Cedar", n))?;
    let unmet = crate::cedar::schema::check_grantd_requirements(&schema);
    if !unmet.is_empty() {
        return Err(Error::invalid_with_notices(
            format!("schema.cedarschema: {}", unmet.join("; ")),
            unmet,
        ));
    }
    let now = Utc::now();
    let mut policies = Vec::new();
    let mut keys = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for (file, body) in &files.policies {
        let key = match &body.key {
            Some(k) if format!("{k}.json") == *file && seen.insert(k.clone()) => k.clone(),
            Some(k) if format!("{k}.json") != *file => {
                return Err(Error::invalid(format!(
                    "{file}: key {k:?} does not match the file name"
                )))
            }
            Some(k) => return Err(Error::invalid(format!("{file}: key {k:?} appears twice"))),
            None => {
                return Err(Error::invalid(format!(
                    "{file}: a policy file needs a \"key\""
                )))
            }
        };
        let built = build_new(body, now);
        let mut diagnostics = validate_policy(&schema, &built.policy, &built.assembled);
        if !built.errors.is_empty() || !diagnostics.is_empty() {
            diagnostics.insert(0, format!("{file}:"));
            return Err(invalid(
                &format!("policy in {file}"),
                built.errors,
                diagnostics,
            ));
        }
        keys.insert(built.policy.id.to_string(), key);
        if built.policy.enabled {
            policies.push(built.policy);
        }
    }
    let mut all = Vec::new();
    let mut entities = Vec::new();
    let mut uids = std::collections::HashSet::new();
    let declared: std::collections::HashSet<String> =
        schema.entity_types().map(ToString::to_string).collect();
    for (path, list) in json_files(&dir.join(ENTITIES_DIR))? {
        let Value::Array(list) = list else {
            return Err(Error::invalid(format!(
                "{}: must be a JSON array of Cedar entities",
                path.display()
            )));
        };
        for (i, v) in list.iter().enumerate() {
            let at = format!("{}[{i}]", path.display());
            limits::check_input(v).map_err(|m| Error::invalid(format!("{at}: {m}")))?;
            let (etype, id) = limits::json_uid(&v["uid"]).ok_or_else(|| {
                Error::invalid(format!(
                    "{at}.uid: must be {{\"type\": string, \"id\": string}}"
                ))
            })?;
            crate::domain::decision::check_entity_name(&etype, &id)
                .map_err(|m| Error::invalid(format!("{at}.uid: {m}")))?;
            if !declared.contains(&etype) {
                return Err(Error::invalid(format!(
                    "{at}.uid.type: {etype:?} is not an entity type of the schema"
                )));
            }
            if !uids.insert((etype.clone(), id.clone())) {
                return Err(Error::invalid(format!(
                    "{at}: {etype}::{id:?} appears twice"
                )));
            }
            entities.push(EntityRow {
                etype,
                id,
                body: v.to_string(),
            });
        }
        // each file alone, so that a problem names its file and its cause
        limits::entity_depths(&list, |_| 0)
            .map_err(|m| Error::invalid(format!("{}: {m}", path.display())))?;
        all.extend(list);
    }
    limits::entity_depths(&all, |_| 0)
        .map_err(|m| Error::invalid(format!("{}: {m}", dir.join(ENTITIES_DIR).display())))?;
    let entities_dir = dir.join(ENTITIES_DIR);
    limits::on_cedar_stack(|| {
        cedar_policy::Entities::from_json_value(Value::Array(all), Some(&schema))
            .map(drop)
            .map_err(|e| {
                Error::invalid(format!(
                    "{}: the entities do not match the schema: {}",
                    entities_dir.display(),
                    super::catalog::error_chain(&e)
                ))
            })
    })?;
    let set = compile(TenantConfig {
        revision: 0,
        cedarschema,
        policies,
        entities,
    })?;
    Ok(Some(DirSet { set, keys }))
}

/// Largest test or entity file read (the server's default body limit, 1 MiB, is far
/// below it; a repository's files are not sent over HTTP).
pub const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The `*.json` files of `dir`, in name order, parsed; none when `dir` does not exist.
fn json_files(dir: &Path) -> Result<Vec<(PathBuf, Value)>> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    files
        .into_iter()
        .filter(|f| f.is_file() && f.extension().is_some_and(|e| e == "json"))
        .map(|f| {
            let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
            if size > MAX_FILE_BYTES {
                return Err(Error::invalid(format!(
                    "{}: {size} bytes, more than the {MAX_FILE_BYTES} a file may hold",
                    f.display()
                )));
            }
            let text = std::fs::read_to_string(&f)
                .map_err(|e| Error::invalid(format!("{}: {e}", f.display())))?;
            let v = serde_json::from_str(&text)
                .map_err(|e| Error::invalid(format!("{}: {e}", f.display())))?;
            Ok((f, v))
        })
        .collect()
}

/// The cases of `dir/tests/*.json`, each named `file.json#N` unless it names itself.
pub fn read_cases(dir: &Path) -> Result<Vec<(String, Case)>> {
    let mut cases = Vec::new();
    for (path, v) in json_files(&dir.join(TESTS_DIR))? {
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let list: Vec<Case> = serde_json::from_value(v).map_err(|e| {
            Error::invalid(format!(
                "{}: a test file is a JSON array of cases: {e}",
                path.display()
            ))
        })?;
        for (i, c) in list.into_iter().enumerate() {
            let name = c
                .name
                .clone()
                .unwrap_or_else(|| format!("{file}#{}", i + 1));
            cases.push((name, c));
        }
    }
    check_cases(&cases)?;
    Ok(cases)
}

/// The body of `POST /v1/policies/test`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestBody {
    /// At most 1,000 cases; request-scoped `entities` as in `POST /v1/authorize/batch`: at
    /// most 1,000 over the run, brought by at most 10 cases.
    pub cases: Vec<Case>,
    /// Run on this policy-set version or a newer one (a consistency token).
    #[serde(default)]
    pub min_policy_set_version: Option<i64>,
    /// Run against the set one configuration write would produce, instead of the stored
    /// set: the write named as it would be sent (as in `POST /v1/changes/preview`), checked
    /// as that write would be (an invalid change answers as the write would). Nothing is
    /// written.
    #[serde(default)]
    pub change: Option<super::changes::ChangeBody>,
}

/// `POST /v1/policies/test`: `body`'s cases against the tenant's stored set (or the set a
/// candidate change would produce), decided as
/// `POST /v1/authorize` decides (on a blocking thread; nothing is written or audited: no
/// request of a user is decided).
pub async fn test_stored(
    s: &super::Services,
    caller: &super::Caller,
    body: TestBody,
) -> Result<Report> {
    let cases: Vec<(String, Case)> = body
        .cases
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone().unwrap_or_else(|| format!("cases[{i}]")), c))
        .collect();
    check_cases(&cases)?;
    let entities: usize = cases
        .iter()
        .map(|(_, c)| c.entities.as_ref().map_or(0, Vec::len))
        .sum();
    let bringing = cases
        .iter()
        .filter(|(_, c)| c.entities.as_ref().is_some_and(|e| !e.is_empty()))
        .count();
    if entities > limits::MAX_BATCH_ENTITIES || bringing > limits::MAX_BATCH_REQUESTS_WITH_ENTITIES
    {
        return Err(Error::invalid(format!(
            "cases: at most {} request-scoped entities in all, brought by at most {} cases; \
             got {entities} brought by {bringing}",
            limits::MAX_BATCH_ENTITIES,
            limits::MAX_BATCH_REQUESTS_WITH_ENTITIES
        )));
    }
    let set = match body.change {
        None => s.policy_set(caller, body.min_policy_set_version).await?,
        Some(change) => {
            // the candidate is built from the database as it is now, which the token
            // must not be newer than
            s.policy_set(caller, body.min_policy_set_version).await?;
            let change = super::changes::Change::parse(change)?;
            let cand = super::changes::candidate(&s.store, caller.tenant_id, change, s.clock.now())
                .await?;
            super::changes::compile_candidate(cand.config).await?
        }
    };
    // the keys of the set's own policies: the version that decides names them
    let keys: HashMap<String, String> = set
        .rules
        .values()
        .filter_map(|r| r.policy.key.clone().map(|k| (r.policy.id.to_string(), k)))
        .collect();
    let deadline = std::time::Instant::now() + TEST_BUDGET;
    tokio::task::spawn_blocking(move || run_until(&set, &keys, &cases, Some(deadline)))
        .await
        .map_err(Error::internal)
}

/// `grantd policy test DIR`: the directory's cases against the directory's files. A
/// directory without cases, or without a schema to test against, is an error: a CI step
/// that tests nothing must not pass.
pub fn test_dir(dir: &Path) -> Result<Report> {
    let files = read_dir(dir)?;
    let cases = read_cases(dir)?;
    if cases.is_empty() {
        return Err(Error::invalid(format!(
            "{}: no test cases (JSON arrays of cases in {TESTS_DIR}/*.json)",
            dir.display()
        )));
    }
    let compiled = compile_dir(dir, &files)?.ok_or_else(|| {
        Error::invalid(format!(
            "{}: no schema.cedarschema to test against",
            dir.display()
        ))
    })?;
    Ok(run(&compiled.set, &compiled.keys, &cases))
}

/// What `grantd policy import` runs first: the directory's cases against the directory's
/// own files (not against what the tenant will hold: policies stored and not in the
/// directory, and stored entities, are not part of it). `None` when there is nothing to
/// run: no cases, or no schema in the directory.
pub fn test_dir_if_any(dir: &Path) -> Result<Option<Report>> {
    let cases = read_cases(dir)?;
    if cases.is_empty() {
        return Ok(None);
    }
    let files = read_dir(dir)?;
    let Some(compiled) = compile_dir(dir, &files)? else {
        return Ok(None);
    };
    Ok(Some(run(&compiled.set, &compiled.keys, &cases)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cedar::engine::compile;
    use crate::domain::config::TenantConfig;
    use serde_json::json;

    #[test]
    fn cases_past_the_budget_fail_as_not_run() {
        let set = compile(TenantConfig {
            revision: 1,
            cedarschema: "entity User; entity App; action view appliesTo { principal: [User], resource: [App] };".into(),
            policies: Vec::new(),
            entities: Vec::new(),
        })
        .unwrap();
        let case: Case = serde_json::from_value(json!({
            "principal": {"type": "User", "id": "a"}, "action": {"type": "Action", "id": "view"},
            "resource": {"type": "App", "id": "x"}, "decision": "deny"}))
        .unwrap();
        let cases = vec![("one".to_string(), case.clone()), ("two".to_string(), case)];
        let keys = HashMap::new();
        // in time: decided (no policy: denied, as expected)
        let r = run_until(
            &set,
            &keys,
            &cases,
            Some(std::time::Instant::now() + TEST_BUDGET),
        );
        assert_eq!((r.passed, r.failed), (2, 0));
        // out of time: every case fails, saying why
        let late = std::time::Instant::now() - std::time::Duration::from_secs(1);
        let r = run_until(&set, &keys, &cases, Some(late));
        assert_eq!((r.passed, r.failed), (0, 2));
        assert!(r.results.iter().all(|c| c
            .failure
            .as_deref()
            .is_some_and(|f| f.starts_with("not run"))));
    }
}
