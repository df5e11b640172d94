//! Policy tests as code: `grantd policy test DIR` offline, `grantd policy import` refusing
//! a directory whose tests fail, and `POST /v1/policies/test` against a tenant's set.

mod common;

use common::{policies_dir, send, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::path::Path;
use std::process::{Command, Output};

fn grantd() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grantd"));
    c.env_remove("GRANTD_DATABASE_URL")
        .env_remove("GRANTD_POLICIES_DIR")
        .env_remove("GRANTD_LOG");
    c
}

/// `grantd policy test DIR`, run to its end.
fn policy_test(dir: &Path) -> Output {
    grantd().args(["policy", "test"]).arg(dir).output().unwrap()
}

/// `grantd policy import` of `dir` into tenant `tenant` of the database at `url`.
fn import(url: &str, tenant: &str, dir: &Path, extra: &[&str]) -> Output {
    grantd()
        .env("GRANTD_DATABASE_URL", url)
        .args(["policy", "import", "--tenant", tenant])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap()
}

/// `grantd policy test DIR` exits 1, saying `why` on stderr.
fn refused(dir: &Path, why: &str) {
    let out = policy_test(dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains(why), "{}", text(&out.stderr));
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into()
}

/// A copy of the example policies directory (schema, policies, entities, tests) in `to`,
/// with `tests/examples.json` replaced by `cases` when given.
fn copy_examples(to: &Path, cases: Option<Value>) {
    let from = policies_dir();
    for sub in ["", "entities", "tests"] {
        std::fs::create_dir_all(to.join(sub)).unwrap();
        for e in std::fs::read_dir(from.join(sub)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() {
                std::fs::copy(&p, to.join(sub).join(p.file_name().unwrap())).unwrap();
            }
        }
    }
    if let Some(c) = cases {
        std::fs::write(to.join("tests/examples.json"), c.to_string()).unwrap();
    }
}

/// The example cases with the first one's expectation turned around and the third one
/// naming the wrong determining policy.
fn two_wrong() -> Value {
    let text = std::fs::read_to_string(policies_dir().join("tests/examples.json")).unwrap();
    let mut cases: Value = serde_json::from_str(&text).unwrap();
    cases[0]["decision"] = json!("deny");
    cases[2]["determining"] = json!(["engineering-read"]);
    cases
}

#[test]
fn the_example_policies_pass_their_tests_offline() {
    let dir = tempfile::tempdir().unwrap();
    // a database URL that names nothing: the command must not need one
    let db = dir.path().join("absent").join("grantd.db");
    let out = grantd()
        .args(["policy", "test"])
        .arg(policies_dir())
        .env("GRANTD_DATABASE_URL", format!("sqlite://{}", db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(text(&out.stdout).trim(), "9 passed, 0 failed");
    assert!(!db.parent().unwrap().exists(), "no database was touched");
}

#[test]
fn failing_cases_are_named_and_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path(), Some(two_wrong()));
    let out = policy_test(dir.path());
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL an engineer may read finance: expected deny, got allow"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "FAIL a contractor never gets finance, though an engineer: expected determining \
             policies [engineering-read], got [contractors-no-finance]"
        ),
        "{stdout}"
    );
    assert!(
        stdout.trim_end().ends_with("7 passed, 2 failed"),
        "{stdout}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("2 of 9 policy tests failed"), "{stderr}");
}

#[test]
fn a_case_the_schema_refuses_fails_and_a_malformed_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(
        dir.path(),
        Some(json!([{"principal": {"type": "Robot", "id": "r"},
            "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0},
            "decision": "deny"}])),
    );
    let out = policy_test(dir.path());
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("FAIL examples.json#1: the request is refused:"),
        "{}",
        text(&out.stdout)
    );
    for bad in [
        json!({"cases": []}),
        json!([{"principal": {"type": "User", "id": "a"}, "decision": "allow"}]),
        json!([{"principal": {"type": "User", "id": "alice"},
            "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "github"}, "decision": "maybe"}]),
    ] {
        std::fs::write(dir.path().join("tests/examples.json"), bad.to_string()).unwrap();
        let out = policy_test(dir.path());
        assert_eq!(out.status.code(), Some(1), "{bad}");
        assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
        assert!(
            text(&out.stderr).contains("examples.json"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn rules_that_fail_to_evaluate_fail_a_case_and_a_directory_must_be_consistent() {
    let dir = tempfile::tempdir().unwrap();
    copy_examples(dir.path(), None);
    let broken = json!({"key": "broken", "name": "broken", "max_duration_seconds": 60,
        "rules": [{"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any",
            "resource_scope_type": "any",
            "conditions": "when { context.extension_count + 9223372036854775807 + 1 > 0 }"}]});
    std::fs::write(dir.path().join("broken.json"), broken.to_string()).unwrap();
    let out = policy_test(dir.path());
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    // every case meets the failing rule, and none expects deny_reason "error"
    assert!(
        stdout.trim_end().ends_with("0 passed, 9 failed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAIL on-call must say why: rules failed to evaluate"),
        "{stdout}"
    );

    // a key that is not the file's name, as import would refuse it
    std::fs::remove_file(dir.path().join("broken.json")).unwrap();
    std::fs::write(dir.path().join("other.json"), broken.to_string()).unwrap();
    refused(dir.path(), "does not match the file name");
    std::fs::remove_file(dir.path().join("other.json")).unwrap();

    // an entity of a type the schema lacks names its file
    std::fs::write(
        dir.path().join("entities/more.json"),
        json!([{"uid": {"type": "Robot", "id": "r"}, "attrs": {}, "parents": []}]).to_string(),
    )
    .unwrap();
    refused(dir.path(), "more.json[0].uid.type");
    std::fs::remove_file(dir.path().join("entities/more.json")).unwrap();

    // no cases: nothing was tested, which is not a pass
    std::fs::remove_file(dir.path().join("tests/examples.json")).unwrap();
    refused(dir.path(), "no test cases");
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_prints_lints_and_imports_anyway() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        copy_examples(dir.path(), None);
        let out = import(&s.db_url, &t.id, dir.path(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(!text(&out.stderr).contains("warning"), "the examples lint clean: {}", text(&out.stderr));
        // a permit for nobody the tests name, twice
        let rule = json!({"effect": "permit", "principal_scope_type": "eq",
            "principal_entity_type": "User", "principal_entity_id": "nobody",
            "action_scope_type": "in", "action_ids": ["request"], "resource_scope_type": "eq",
            "resource_entity_type": "App", "resource_entity_id": "github"});
        std::fs::write(dir.path().join("dup.json"), json!({"key": "dup", "name": "d",
            "max_duration_seconds": 60, "rules": [rule, rule]}).to_string()).unwrap();
        let out = import(&s.db_url, &t.id, dir.path(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("grantd: warning: dup.json: rule 1: duplicates rule 0"),
            "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("1 created"), "{}", text(&out.stdout));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_directory_without_a_schema_imports_without_running_its_tests() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        copy_examples(dir.path(), Some(two_wrong()));
        std::fs::remove_file(dir.path().join("schema.cedarschema")).unwrap();
        let out = import(&s.db_url, &t.id, dir.path(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let list = s.admin_get(&t, "/v1/policies").await;
        assert_eq!(list.body["total"], 4, "{}", list.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_refuses_a_directory_whose_tests_fail_unless_told_to_skip_them() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        copy_examples(dir.path(), Some(two_wrong()));
        let events_before = s.events(&t.id).await.len();
        let out = import(&s.db_url, &t.id, dir.path(), &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
        assert!(text(&out.stderr).contains("nothing was imported"), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("FAIL an engineer may read finance"));
        let list = s.admin_get(&t, "/v1/policies").await;
        assert_eq!(list.body["total"], 0, "{}", list.text);
        assert_eq!(s.events(&t.id).await.len(), events_before);

        let out = import(&s.db_url, &t.id, dir.path(), &["--skip-tests"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("4 created"), "{}", text(&out.stdout));
        let list = s.admin_get(&t, "/v1/policies").await;
        assert_eq!(list.body["total"], 4, "{}", list.text);
        let imports: Vec<Value> = s.events(&t.id).await.into_iter()
            .filter(|(k, _)| k == "policy.create")
            .map(|(_, b)| b)
            .collect();
        assert_eq!(imports.len(), 4);
        assert!(imports.iter().all(|e| e["request"]["skip_tests"] == true), "{imports:?}");

        // the passing directory imports without the flag, and says nothing of tests
        let good = tempfile::tempdir().unwrap();
        copy_examples(good.path(), None);
        let u = s.tenant().await;
        let out = import(&s.db_url, &u.id, good.path(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let events = s.events(&u.id).await;
        assert!(events.iter().all(|(_, b)| b["request"].get("skip_tests").is_none()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_api_runs_cases_against_the_stored_set_and_records_nothing() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        copy_examples(dir.path(), None);
        let out = import(&s.db_url, &t.id, dir.path(), &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let entities: Value = serde_json::from_str(
            &std::fs::read_to_string(policies_dir().join("entities/example-entities.json")).unwrap(),
        ).unwrap();
        let r = send(&s, &t.admin_key, &t, Method::PUT, "/v1/entities", Some(entities)).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let examples: Value = serde_json::from_str(
            &std::fs::read_to_string(policies_dir().join("tests/examples.json")).unwrap(),
        ).unwrap();
        let events = s.events(&t.id).await.len();

        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies/test",
            Some(json!({"cases": examples}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!((r.body["passed"].as_u64(), r.body["failed"].as_u64()), (Some(9), Some(0)), "{}", r.text);
        assert_eq!(r.body["results"][2]["determining"], json!(["contractors-no-finance"]));

        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies/test",
            Some(json!({"cases": two_wrong()}))).await;
        assert_eq!((r.body["passed"].as_u64(), r.body["failed"].as_u64()), (Some(7), Some(2)), "{}", r.text);
        assert_eq!(r.body["results"][0]["passed"], false);
        assert_eq!(r.body["results"][0]["failure"], "expected deny, got allow");
        assert_eq!(s.events(&t.id).await.len(), events, "running tests records nothing");

        // an unnamed case is named by its place; a case the schema refuses fails, alone
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies/test", Some(json!({"cases": [
            {"principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "request"},
             "resource": {"type": "Robot", "id": "r"}, "decision": "deny"},
            examples[0]]}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["results"][0]["name"], "cases[0]");
        assert!(r.body["results"][0]["failure"].as_str().unwrap().starts_with("the request is refused"), "{}", r.text);
        assert_eq!(r.body["results"][1]["passed"], true);

        // bounded, checked, and for authors and admins
        let many: Vec<Value> = (0..1001).map(|_| examples[0].clone()).collect();
        send(&s, &t.admin_key, &t, Method::POST, "/v1/policies/test", Some(json!({"cases": many})))
            .await.assert_error(400, "invalid_input");
        let mut odd = examples[0].clone();
        odd["decision"] = json!("maybe");
        send(&s, &t.admin_key, &t, Method::POST, "/v1/policies/test", Some(json!({"cases": [odd]})))
            .await.assert_error(400, "invalid_input");
        let requester = s.key(&t, "requester").await;
        send(&s, &requester, &t, Method::POST, "/v1/policies/test", Some(json!({"cases": []})))
            .await.assert_error(403, "forbidden");
        let author = s.key(&t, "author").await;
        let r = send(&s, &author, &t, Method::POST, "/v1/policies/test", Some(json!({"cases": []}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    #[tokio::test]
    async fn a_policy_keyed_test_is_still_reached_at_its_path() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = send(&s, &t.admin_key, &t, Method::POST, "/v1/policies", Some(json!({
            "key": "test", "name": "t", "max_duration_seconds": 60,
            "rules": [{"effect": "permit", "principal_scope_type": "any",
                "action_scope_type": "any", "resource_scope_type": "any"}]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::GET, "/v1/policies/test", None).await;
        assert_eq!((r.status.as_u16(), &r.body["key"]), (200, &json!("test")), "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::PATCH, "/v1/policies/test",
            Some(json!({"name": "renamed"}))).await;
        assert_eq!((r.status.as_u16(), &r.body["name"]), (200, &json!("renamed")), "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::DELETE, "/v1/policies/test", None).await;
        assert_eq!(r.status, 204, "{}", r.text);
        let r = send(&s, &t.admin_key, &t, Method::GET, "/v1/policies/test", None).await;
        r.assert_error(404, "not_found");
    }
}
