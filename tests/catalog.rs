//! Schema and entities over HTTP, and policies as code through the CLI.

mod common;

use common::{policies_dir, Resp, Tenant, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::process::Command;

async fn send(s: &TestServer, t: &Tenant, m: Method, path: &str, body: Option<Value>) -> Resp {
    s.call(m, path, Some(&t.admin_key), Some(&t.id), body).await
}

fn default_schema() -> String {
    std::fs::read_to_string(policies_dir().join("schema.cedarschema")).unwrap()
}

fn users() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {"department": "eng"}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
    ])
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entities_are_validated_upserted_listed_and_deleted() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = send(&s, &t, Method::PUT, "/v1/entities", Some(users())).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["upserted"], 4);

        let r = send(&s, &t, Method::GET, "/v1/entities?type=User", None).await;
        assert_eq!(r.body["total"], 2);
        assert_eq!(
            r.body["items"][0]["uid"],
            json!({"type": "User", "id": "alice"})
        );
        assert_eq!(r.body["items"][0]["attrs"]["department"], "eng");

        // upsert replaces attributes
        let r = send(&s, &t, Method::PUT, "/v1/entities",
            Some(json!([{"uid": {"type": "User", "id": "alice"}, "attrs": {"department": "sre"}, "parents": []}]))).await;
        assert_eq!(r.status, 200);
        let r = send(
            &s,
            &t,
            Method::GET,
            "/v1/entities?type=User&per_page=1",
            None,
        )
        .await;
        assert_eq!(r.body["items"][0]["attrs"]["department"], "sre");
        let token = r.body["next_page_token"].as_str().unwrap().to_string();
        let r2 = send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/entities?type=User&per_page=1&next_page_token={token}"),
            None,
        )
        .await;
        assert_eq!(r2.body["items"][0]["uid"]["id"], "bob");
        assert!(r2.body["next_page_token"].is_null());
        // a token is bound to its filter
        send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/entities?type=App&per_page=1&next_page_token={token}"),
            None,
        )
        .await
        .assert_error(400, "invalid_input");

        // invalid input changes nothing
        let before = send(&s, &t, Method::GET, "/v1/entities", None).await.body;
        for bad in [
            json!([{"uid": {"type": "User", "id": "carol"}, "attrs": {"department": 7}, "parents": []}]),
            json!([{"uid": {"type": "User", "id": "carol"}, "attrs": {"clearance": "x"}, "parents": []}]),
            json!([{"uid": {"type": "Robot", "id": "r2"}, "attrs": {}, "parents": []}]),
            json!([{"uid": {"type": "App", "id": "x"}, "attrs": {}, "parents": [{"type": "User", "id": "alice"}]}]),
            json!([{"uid": {"type": "User", "id": "dup"}, "attrs": {}, "parents": []},
                   {"uid": {"type": "User", "id": "dup"}, "attrs": {}, "parents": []}]),
            json!([{"attrs": {}}]),
            json!({"uid": {"type": "User", "id": "x"}}),
            json!([{"uid": {"type": "User", "id": "ok"}, "attrs": {}, "parents": []},
                   {"uid": {"type": "User", "id": "bad"}, "attrs": {"email": false}, "parents": []}]),
        ] {
            send(&s, &t, Method::PUT, "/v1/entities", Some(bad.clone()))
                .await
                .assert_error(400, "invalid_input");
        }
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/entities", None).await.body,
            before
        );

        // delete
        assert_eq!(
            send(&s, &t, Method::DELETE, "/v1/entities/User/bob", None)
                .await
                .status,
            204
        );
        send(&s, &t, Method::DELETE, "/v1/entities/User/bob", None)
            .await
            .assert_error(404, "not_found");
        let kinds: Vec<(String, Value)> = s.events(&t.id).await;
        assert_eq!(
            kinds.iter().filter(|(k, _)| k == "entities.update").count(),
            5
        );
        let del: Vec<_> = kinds
            .iter()
            .filter(|(k, _)| k == "entities.delete")
            .collect();
        assert_eq!(del.len(), 1);
        assert_eq!(
            del[0].1["subject"],
            json!({"type": "entity", "id": "User::\"bob\""})
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn entity_ids_with_odd_characters_round_trip() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let id = "we/ird \"id\"";
        let r = send(
            &s,
            &t,
            Method::PUT,
            "/v1/entities",
            Some(json!([{"uid": {"type": "App", "id": id}, "attrs": {}, "parents": []}])),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(
            &s,
            &t,
            Method::DELETE,
            "/v1/entities/App/we%2Fird%20%22id%22",
            None,
        )
        .await;
        assert_eq!(r.status, 204, "{}", r.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn other_tenants_entities_are_not_visible() {
        let s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        send(&s, &a, Method::PUT, "/v1/entities", Some(users())).await;
        assert_eq!(
            send(&s, &b, Method::GET, "/v1/entities", None).await.body["total"],
            0
        );
        send(&s, &b, Method::DELETE, "/v1/entities/User/alice", None)
            .await
            .assert_error(404, "not_found");
        assert_eq!(
            send(&s, &a, Method::GET, "/v1/entities", None).await.body["total"],
            4
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn schema_changes_that_break_something_are_refused() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = send(&s, &t, Method::GET, "/v1/schema", None).await;
        assert_eq!(r.body["cedarschema"], default_schema().as_str());
        send(&s, &t, Method::PUT, "/v1/entities", Some(users())).await;
        let rule = json!({"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
            "action_ids": ["request"], "resource_scope_type": "any",
            "conditions": "when { principal has department && principal.department == \"eng\" }"});
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/policies",
            Some(json!({"key": "dept", "name": "d", "max_duration_seconds": 60, "rules": [rule]})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);

        let put = |text: String| {
            send(
                &s,
                &t,
                Method::PUT,
                "/v1/schema",
                Some(json!({"cedarschema": text})),
            )
        };
        // a rule would stop validating (`department` becomes a Long; alice's is a String)
        let r = put(default_schema().replace("department?: String", "department?: Long")).await;
        r.assert_error(400, "invalid_input");
        let notices = r.body["notices"].as_array().unwrap();
        assert!(
            notices
                .iter()
                .any(|n| n.as_str().unwrap().starts_with("policy dept: rule 0")),
            "{}",
            r.text
        );
        assert!(
            notices
                .iter()
                .any(|n| n.as_str().unwrap().starts_with("stored entities")),
            "{}",
            r.text
        );
        // a GrantContext field grantd fills in
        let r = put(default_schema().replace(
            "  reason: String,                // \"\" when none was given\n",
            "",
        ))
        .await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("GrantContext"), "{}", r.text);
        // the extend action
        put(default_schema().replace(
            "action request, extend appliesTo",
            "action request appliesTo",
        ))
        .await
        .assert_error(400, "invalid_input");
        // not Cedar at all
        let r = put("entity User in [".into()).await;
        r.assert_error(400, "invalid_input");
        assert!(r.body["notices"].is_array());
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/schema", None).await.body["cedarschema"],
            default_schema().as_str()
        );
        assert!(s
            .events(&t.id)
            .await
            .iter()
            .all(|(k, _)| k != "schema.update"));

        // extending is fine, and audited
        let extended = default_schema().replace("entity App;", "entity App { owner?: String };")
            + "\naction read appliesTo { principal: [User], resource: [App] };\n";
        let r = put(extended.clone()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/schema", None).await.body["cedarschema"],
            extended.as_str()
        );
        assert_eq!(
            s.events(&t.id)
                .await
                .iter()
                .filter(|(k, _)| k == "schema.update")
                .count(),
            1
        );
        // and a rule can use the new attribute now
        let rule = json!({"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
            "action_ids": ["read"], "resource_scope_type": "any",
            "conditions": "when { resource has owner && principal has email && resource.owner == principal.email }"});
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/policies",
            Some(json!({"name": "owners", "max_duration_seconds": 60, "rules": [rule]})),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }
}

/// `grantd policy import` of `dir` into tenant `t`, run to its end.
fn import_dir(s: &TestServer, t: &Tenant, dir: &std::path::Path) -> std::process::Output {
    grantd(&s.db_url)
        .args(["policy", "import", "--tenant", &t.id])
        .arg(dir)
        .output()
        .unwrap()
}

fn grantd(url: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_grantd"));
    c.env_remove("GRANTD_POLICIES_DIR")
        .env("GRANTD_DATABASE_URL", url);
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into()
}

fn read_json_files(dir: &std::path::Path) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().to_string(),
                serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

backends! {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_export_round_trip_of_the_policies_directory() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let out = run_ok(
            grantd(&s.db_url)
                .args(["policy", "import", "--tenant", &t.id])
                .arg(policies_dir()),
        );
        assert!(out.contains("4 created"), "{out}");
        let list = send(&s, &t, Method::GET, "/v1/policies", None).await;
        assert_eq!(list.body["total"], 4);
        // the imported rules decide, and their version resolves to their text
        send(&s, &t, Method::PUT, "/v1/entities", Some(users())).await;
        let d = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize",
            Some(json!({
            "principal": {"type": "User", "id": "alice"}, "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "github"},
            "context": {"scopes": ["read"], "reason": "", "extension_count": 0}})),
        )
        .await;
        assert_eq!(d.body["decision"], "allow", "{}", d.text);
        let v = d.body["policy_set_version"].as_i64().unwrap();
        let text = send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/policy-set-versions/{v}"),
            None,
        )
        .await;
        assert!(
            text.body["cedar_policy_set"]
                .as_str()
                .unwrap()
                .contains("Group::\"engineering\""),
            "{}",
            text.text
        );
        let again = run_ok(
            grantd(&s.db_url)
                .args(["policy", "import", "--tenant", &t.id])
                .arg(policies_dir()),
        );
        assert!(
            again.contains("0 created, 0 updated, 4 unchanged"),
            "{again}"
        );

        let exported = tempfile::tempdir().unwrap();
        run_ok(
            grantd(&s.db_url)
                .args(["policy", "export", "--tenant", &t.id])
                .arg(exported.path()),
        );
        assert_eq!(
            std::fs::read_to_string(exported.path().join("schema.cedarschema")).unwrap(),
            default_schema()
        );
        let source = read_json_files(&policies_dir());
        let written = read_json_files(exported.path());
        assert_eq!(
            source.iter().map(|f| &f.0).collect::<Vec<_>>(),
            written.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for ((name, src), (_, out)) in source.iter().zip(&written) {
            for field in [
                "key",
                "name",
                "description",
                "max_duration_seconds",
                "priority",
            ] {
                assert_eq!(src[field], out[field], "{name}: {field}");
            }
            let (sr, or) = (
                src["rules"].as_array().unwrap(),
                out["rules"].as_array().unwrap(),
            );
            assert_eq!(sr.len(), or.len());
            for (a, b) in sr.iter().zip(or) {
                for (k, v) in a.as_object().unwrap() {
                    assert_eq!(&b[k], v, "{name}: rule field {k}");
                }
            }
        }
        // the export imports into another tenant, and exports identically from there
        let u = s.tenant().await;
        run_ok(
            grantd(&s.db_url)
                .args(["policy", "import", "--tenant", &u.id])
                .arg(exported.path()),
        );
        let second = tempfile::tempdir().unwrap();
        run_ok(
            grantd(&s.db_url)
                .args(["policy", "export", "--tenant", &u.id])
                .arg(second.path()),
        );
        assert_eq!(
            read_json_files(exported.path()),
            read_json_files(second.path())
        );

        // an edit re-imports as one update; unchanged rules keep their ids
        let before = send(&s, &t, Method::GET, "/v1/policies/engineering-read", None)
            .await
            .body;
        let mut edited: Value = serde_json::from_str(
            &std::fs::read_to_string(exported.path().join("engineering-read.json")).unwrap(),
        )
        .unwrap();
        edited["max_duration_seconds"] = json!(20000);
        std::fs::write(
            exported.path().join("engineering-read.json"),
            edited.to_string(),
        )
        .unwrap();
        let out = run_ok(
            grantd(&s.db_url)
                .args(["policy", "import", "--tenant", &t.id])
                .arg(exported.path()),
        );
        assert!(out.contains("0 created, 1 updated, 3 unchanged"), "{out}");
        let after = send(&s, &t, Method::GET, "/v1/policies/engineering-read", None)
            .await
            .body;
        assert_eq!(after["max_duration_seconds"], 20000);
        assert_eq!(after["version"], 2);
        assert_eq!(after["rules"][0]["id"], before["rules"][0]["id"]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_is_all_or_nothing() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        for f in ["engineering-read.json", "contractors-no-finance.json"] {
            std::fs::copy(policies_dir().join(f), dir.path().join(f)).unwrap();
        }
        std::fs::write(
            dir.path().join("broken.json"),
            json!({"key": "broken", "name": "b", "max_duration_seconds": 60, "rules": [
                {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "any",
                 "resource_scope_type": "any", "conditions": "when { context.nope }"}]})
            .to_string(),
        )
        .unwrap();
        let out = import_dir(&s, &t, dir.path());
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("broken.json"), "{err}");
        assert_eq!(err.trim().lines().count(), 1);
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/policies", None).await.body["total"],
            0
        );
        // a file whose key does not match its name
        std::fs::remove_file(dir.path().join("broken.json")).unwrap();
        std::fs::write(
            dir.path().join("other.json"),
            std::fs::read_to_string(policies_dir().join("admin-extension-limit.json")).unwrap(),
        )
        .unwrap();
        let out = import_dir(&s, &t, dir.path());
        assert_eq!(out.status.code(), Some(1));
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/policies", None).await.body["total"],
            0
        );
    }

    /// The attack through the CLI (8 MiB main-thread stack): a 400-deep rule is
    /// refused with the same limit the API names, nothing is stored, and the server that
    /// shares the database goes on deciding.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn import_refuses_rules_and_schemas_past_the_nesting_limit() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let dir = tempfile::tempdir().unwrap();
        let deep = format!("when {{ {}true{} }}", "(".repeat(400), ")".repeat(400));
        std::fs::write(
            dir.path().join("deep.json"),
            json!({"key": "deep", "name": "d", "max_duration_seconds": 60, "rules": [
                {"effect": "permit", "principal_scope_type": "any", "action_scope_type": "any",
                 "resource_scope_type": "any", "conditions": deep}]})
            .to_string(),
        )
        .unwrap();
        let out = import_dir(&s, &t, dir.path());
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("deep.json") && err.contains("the limit is 32"),
            "{err}"
        );
        std::fs::remove_file(dir.path().join("deep.json")).unwrap();
        std::fs::write(
            dir.path().join("schema.cedarschema"),
            format!("type Deep = {}Long{};", "Set<".repeat(400), ">".repeat(400)),
        )
        .unwrap();
        let out = import_dir(&s, &t, dir.path());
        assert_eq!(out.status.code(), Some(1));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the limit is 32"), "{err}");
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/policies", None).await.body["total"],
            0
        );
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize",
            Some(json!({
            "principal": {"type": "User", "id": "u"}, "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "a"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_bootstrap_tenant_gets_the_examples() {
        let s = TestServer::start().await;
        // A fresh database for the bootstrap.
        let db = common::fresh_database().await;
        let app = grantd::App::open(
            grantd::config::Config::new(db.url.clone(), policies_dir()),
            s.clock.clone(),
        )
        .await
        .unwrap();
        let path = app
            .bootstrap_if_empty(db.dir.path())
            .await
            .unwrap()
            .unwrap();
        let boot: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let tenant: grantd::domain::ids::TenantId =
            boot["tenant_id"].as_str().unwrap().parse().unwrap();
        let store = &app.state.services.store;
        let policies = store.all_policies(tenant).await.unwrap();
        assert_eq!(policies.len(), 4);
        let entities = store.all_entities(tenant).await.unwrap();
        assert!(entities
            .iter()
            .any(|e| e.etype == "User" && e.id == "alice"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_parent_cycle_spread_over_two_writes_is_refused() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let group = |id: &str, parent: &str| {
            json!([{"uid": {"type": "Group", "id": id}, "attrs": {},
                    "parents": [{"type": "Group", "id": parent}]}])
        };
        let r = send(&s, &t, Method::PUT, "/v1/entities", Some(group("ga", "gb"))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        send(&s, &t, Method::PUT, "/v1/entities", Some(group("gb", "ga")))
            .await
            .assert_error(400, "invalid_input");
        // decisions still work for the tenant
        let r = send(
            &s,
            &t,
            Method::POST,
            "/v1/authorize",
            Some(json!({
            "principal": {"type": "User", "id": "x"}, "action": {"type": "Action", "id": "request"},
            "resource": {"type": "App", "id": "y"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(
            send(&s, &t, Method::GET, "/v1/entities", None).await.body["total"],
            1
        );
    }
}
