//! Policy CRUD over HTTP: assembly, validation before storage, PATCH semantics, ETags,
//! keys, pagination and tenant walls.

mod common;

use common::{Resp, Tenant, TestServer};
use reqwest::Method;
use serde_json::{json, Value};

fn read_rule() -> Value {
    json!({
        "effect": "permit",
        "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "engineering",
        "action_scope_type": "eq", "action_ids": ["request"],
        "resource_scope_type": "is", "resource_entity_type": "App",
        "conditions": "when { context.scopes.contains(\"read\") }",
        "notice": "read only"
    })
}

fn forbid_rule() -> Value {
    json!({
        "effect": "forbid",
        "principal_scope_type": "eq", "principal_entity_type": "User", "principal_entity_id": "mallory",
        "action_scope_type": "any",
        "resource_scope_type": "any"
    })
}

async fn send(s: &TestServer, t: &Tenant, m: Method, path: &str, body: Option<Value>) -> Resp {
    s.call(m, path, Some(&t.admin_key), Some(&t.id), body).await
}

/// A policy as a write answered it, less the write's consistency token and lints (which
/// it must carry): the policy as reads show it.
fn as_stored(mut v: Value) -> Value {
    let token = v
        .as_object_mut()
        .and_then(|o| o.remove("policy_set_version"));
    assert!(
        token.as_ref().is_some_and(Value::is_i64),
        "no policy_set_version: {v}"
    );
    let reevaluation = v.as_object_mut().and_then(|o| o.remove("reevaluation_id"));
    assert_eq!(
        reevaluation, token,
        "the write's re-evaluation is named by its version"
    );
    let notices = v.as_object_mut().and_then(|o| o.remove("notices"));
    assert!(
        notices.as_ref().is_some_and(Value::is_array),
        "no notices: {v}"
    );
    v
}

async fn create(s: &TestServer, t: &Tenant, body: Value) -> Resp {
    send(s, t, Method::POST, "/v1/policies", Some(body)).await
}

fn policy(key: &str) -> Value {
    json!({"key": key, "name": format!("policy {key}"), "max_duration_seconds": 3600,
           "default_duration_seconds": 600, "priority": 5, "rules": [read_rule(), forbid_rule()]})
}

backends! {
    #[tokio::test]
    async fn create_assembles_cedar_and_get_edit_patch_round_trips() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let r = create(&s, &t, policy("eng-read")).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.headers["etag"], "\"1\"");
        let p = as_stored(r.body);
        assert_eq!(p["version"], 1);
        assert_eq!(p["enabled"], true);
        let rules = p["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(
            rules[0]["policy_text"],
            "permit (\n  principal in Group::\"engineering\",\n  action == Action::\"request\",\n  resource is App\n)\nwhen { context.scopes.contains(\"read\") }\n;"
        );
        assert!(p["cedar_policy_set"]
            .as_str()
            .unwrap()
            .contains("forbid (\n  principal == User::\"mallory\""));
        assert_eq!(rules[0]["ordinal"], 0);
        assert_eq!(rules[1]["ordinal"], 1);
        assert_eq!(rules[0]["audit_session"], false);

        // GET → edit → PATCH: the whole document goes back, read-only fields included.
        let id = p["id"].as_str().unwrap();
        let got = send(&s, &t, Method::GET, &format!("/v1/policies/{id}"), None).await;
        assert_eq!(got.status, 200);
        assert_eq!(got.headers["etag"], "\"1\"");
        let mut edited = got.body.clone();
        edited["name"] = json!("renamed");
        edited["rules"][1]["notice"] = json!("mallory is barred");
        let patched = send(
            &s,
            &t,
            Method::PATCH,
            &format!("/v1/policies/{id}"),
            Some(edited),
        )
        .await;
        assert_eq!(patched.status, 200, "{}", patched.text);
        assert_eq!(patched.body["version"], 2);
        assert_eq!(patched.headers["etag"], "\"2\"");
        assert_eq!(patched.body["name"], "renamed");
        for i in 0..2 {
            assert_eq!(
                patched.body["rules"][i]["id"], p["rules"][i]["id"],
                "rule ids kept"
            );
            assert_eq!(
                patched.body["rules"][i]["created_at"],
                p["rules"][i]["created_at"]
            );
        }
        assert_eq!(patched.body["rules"][1]["notice"], "mallory is barred");
        assert_eq!(patched.body["created_at"], p["created_at"]);
        // by key too
        let by_key = send(&s, &t, Method::GET, "/v1/policies/eng-read", None).await;
        assert_eq!(by_key.body, as_stored(patched.body.clone()));
        // audited in the same transaction
        let kinds: Vec<String> = s.events(&t.id).await.into_iter().map(|(k, _)| k).collect();
        assert_eq!(kinds.iter().filter(|k| *k == "policy.create").count(), 1);
        assert_eq!(kinds.iter().filter(|k| *k == "policy.update").count(), 1);
    }

    #[tokio::test]
    async fn patch_is_partial_null_clears_and_rules_replace_with_kept_ids() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let mut body = policy("p");
        body["description"] = json!("about p");
        body["notification_channel"] = json!("#access");
        let p = as_stored(create(&s, &t, body).await.body);
        let path = format!("/v1/policies/{}", p["id"].as_str().unwrap());

        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"description": null, "priority": 9})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["description"], Value::Null);
        assert_eq!(r.body["priority"], 9);
        assert_eq!(r.body["notification_channel"], "#access", "untouched");
        assert_eq!(
            r.body["rules"], p["rules"],
            "rules untouched when not given"
        );

        let kept = p["rules"][1]["id"].clone();
        let mut keep = forbid_rule();
        keep["id"] = kept.clone();
        let new_rule = json!({"effect": "permit", "principal_scope_type": "any",
            "action_scope_type": "in", "action_ids": ["request", "extend"],
            "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "github"});
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"rules": [keep, new_rule]})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let rules = r.body["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 2);
        assert_eq!(rules[0]["id"], kept);
        assert_ne!(rules[1]["id"], p["rules"][0]["id"]);
        assert!(rules[1]["policy_text"]
            .as_str()
            .unwrap()
            .contains("action in [Action::\"request\", Action::\"extend\"]"));

        // an id that is not one of this policy's rules
        let mut stranger = forbid_rule();
        stranger["id"] = json!("0190a5e0-0000-7000-8000-000000000123");
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"rules": [stranger]})),
        )
        .await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("rules[0].id"), "{}", r.text);
        // required fields may not be nulled
        let r = send(&s, &t, Method::PATCH, &path, Some(json!({"name": null}))).await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("name"));
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"max_duration_seconds": null})),
        )
        .await;
        r.assert_error(400, "invalid_input");
        // unknown fields
        let r = send(&s, &t, Method::PATCH, &path, Some(json!({"nmae": "x"}))).await;
        r.assert_error(400, "invalid_input");
    }

    #[tokio::test]
    async fn if_match_and_etags() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let p = as_stored(create(&s, &t, policy("p")).await.body);
        let path = format!("{}/v1/policies/{}", s.base, p["id"].as_str().unwrap());
        let patch = |if_match: &'static str, name: &'static str| {
            s.client
                .patch(&path)
                .header("X-API-Key", &t.admin_key)
                .header("X-Tenant-ID", &t.id)
                .header("If-Match", if_match)
                .json(&json!({"name": name}))
                .send()
        };
        let r = TestServer::read(patch("\"1\"", "a").await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = TestServer::read(patch("\"1\"", "b").await.unwrap()).await;
        r.assert_error(409, "conflict");
        let r = TestServer::read(patch("2", "c").await.unwrap()).await;
        assert_eq!(r.status, 200);
        let r = TestServer::read(patch("\"nope\"", "d").await.unwrap()).await;
        r.assert_error(400, "invalid_input");
        let after = send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/policies/{}", p["id"].as_str().unwrap()),
            None,
        )
        .await;
        assert_eq!(after.body["name"], "c");
        assert_eq!(after.body["version"], 3);
        // DELETE honours If-Match too
        let del = |m: &'static str| {
            s.client
                .delete(&path)
                .header("X-API-Key", &t.admin_key)
                .header("X-Tenant-ID", &t.id)
                .header("If-Match", m)
                .send()
        };
        TestServer::read(del("\"2\"").await.unwrap())
            .await
            .assert_error(409, "conflict");
        assert_eq!(del("\"3\"").await.unwrap().status(), 204);
        send(
            &s,
            &t,
            Method::GET,
            &format!("/v1/policies/{}", p["id"].as_str().unwrap()),
            None,
        )
        .await
        .assert_error(404, "not_found");
        assert!(s
            .events(&t.id)
            .await
            .iter()
            .any(|(k, _)| k == "policy.delete"));
    }

    #[tokio::test]
    async fn invalid_rules_are_refused_with_notices_and_nothing_changes() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let p = as_stored(create(&s, &t, policy("p")).await.body);
        let path = format!("/v1/policies/{}", p["id"].as_str().unwrap());
        let events_before = s.events(&t.id).await.len();

        // Cedar syntax in conditions
        let mut bad = read_rule();
        bad["conditions"] = json!("when { context.scopes.contains(\"read\" }");
        let r = send(&s, &t, Method::PATCH, &path, Some(json!({"rules": [bad]}))).await;
        r.assert_error(400, "invalid_input");
        assert!(
            r.body["notices"][0]
                .as_str()
                .unwrap()
                .contains("rules[0].conditions"),
            "{}",
            r.text
        );

        // conditions that try to smuggle a second policy in
        let mut smuggle = read_rule();
        smuggle["conditions"] =
            json!("when { true }; permit(principal, action, resource) when { true }");
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"rules": [smuggle]})),
        )
        .await;
        r.assert_error(400, "invalid_input");

        // an attribute the schema does not have: strict validation, rule ordinal, id and location
        let mut unknown = read_rule();
        unknown["conditions"] = json!("when { principal.clearance == \"top\" }");
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &path,
            Some(json!({"rules": [forbid_rule(), unknown]})),
        )
        .await;
        r.assert_error(400, "invalid_input");
        let notice = r.body["notices"][0].as_str().unwrap();
        assert!(notice.starts_with("rule 1 ("), "{notice}");
        assert!(
            notice.contains("clearance") && notice.contains("line"),
            "{notice}"
        );

        // an unknown entity type in a scope
        let mut typo = forbid_rule();
        typo["principal_entity_type"] = json!("Usr");
        let r = send(&s, &t, Method::PATCH, &path, Some(json!({"rules": [typo]}))).await;
        r.assert_error(400, "invalid_input");
        assert!(r.text.contains("Usr"));

        // wrong context type
        let mut wrong = read_rule();
        wrong["conditions"] = json!("when { context.extension_count == \"two\" }");
        send(
            &s,
            &t,
            Method::POST,
            "/v1/policies",
            Some(json!({"name": "x", "max_duration_seconds": 5, "rules": [wrong]})),
        )
        .await
        .assert_error(400, "invalid_input");

        let after = send(&s, &t, Method::GET, &path, None).await;
        assert_eq!(after.body, p, "the policy is unchanged");
        assert_eq!(
            s.events(&t.id).await.len(),
            events_before,
            "nothing was audited"
        );
        let list = send(&s, &t, Method::GET, "/v1/policies", None).await;
        assert_eq!(list.body["total"], 1);
    }

    #[tokio::test]
    async fn invariants_name_the_field() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let base = policy("p");
        let cases: Vec<(Value, &str)> = vec![
            (json!({"max_duration_seconds": 0}), "max_duration_seconds"),
            (json!({"max_duration_seconds": -5}), "max_duration_seconds"),
            (
                json!({"max_duration_seconds": 1_000_000_000_000i64}),
                "max_duration_seconds",
            ),
            (
                json!({"default_duration_seconds": 0}),
                "default_duration_seconds",
            ),
            (
                json!({"default_duration_seconds": 7200}),
                "default_duration_seconds",
            ),
            (json!({"name": ""}), "name"),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "any", "action_scope_type": "eq",
                "action_ids": ["request", "extend"], "resource_scope_type": "any"}]}),
                "rules[0].action_ids",
            ),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                "action_scope_type": "any", "resource_scope_type": "any"}]}),
                "rules[0].principal_entity_id",
            ),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "any", "principal_entity_type": "User",
                "action_scope_type": "any", "resource_scope_type": "any"}]}),
                "rules[0].principal_entity_type",
            ),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "any", "action_scope_type": "any",
                "resource_scope_type": "is", "resource_entity_type": "App", "resource_entity_id": "x"}]}),
                "rules[0].resource_entity_id",
            ),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "is_in", "principal_entity_type": "User",
                "principal_entity_id": "engineering", "action_scope_type": "any", "resource_scope_type": "any"}]}),
                "rules[0].principal_entity_id",
            ),
            (
                json!({"rules": [{"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User\"); permit(principal",
                "principal_entity_id": "a", "action_scope_type": "any", "resource_scope_type": "any"}]}),
                "rules[0].principal_entity_type",
            ),
        ];
        for (change, field) in cases {
            let mut body = base.clone();
            for (k, v) in change.as_object().unwrap() {
                body[k] = v.clone();
            }
            let r = create(&s, &t, body).await;
            r.assert_error(400, "invalid_input");
            let fields: Vec<&str> = r.body["details"]["fields"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f["field"].as_str()).collect())
                .unwrap_or_default();
            assert!(
                fields.contains(&field),
                "{change} should name {field}: {}",
                r.text
            );
            assert!(
                r.body["message"].as_str().unwrap().contains(field),
                "{}",
                r.text
            );
        }
        // missing required fields and wrong types are 400 too
        create(&s, &t, json!({"name": "x"}))
            .await
            .assert_error(400, "invalid_input");
        create(&s, &t, json!({"name": "x", "max_duration_seconds": "1h"}))
            .await
            .assert_error(400, "invalid_input");
        let list = send(&s, &t, Method::GET, "/v1/policies", None).await;
        assert_eq!(list.body["total"], 0);
        // escaping: ids with quotes, backslashes, newlines and keywords are stored safely
        let mut odd = policy("odd");
        odd["rules"] = json!([{"effect": "forbid", "principal_scope_type": "eq", "principal_entity_type": "User",
            "principal_entity_id": "a\"b\\c\n) when { true };// permit", "action_scope_type": "any", "resource_scope_type": "any"}]);
        let r = create(&s, &t, odd).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(
            r.body["rules"][0]["principal_entity_id"],
            "a\"b\\c\n) when { true };// permit"
        );
        assert_eq!(
            r.body["rules"][0]["policy_text"]
                .as_str()
                .unwrap()
                .matches(';')
                .count(),
            2
        );
    }

    #[tokio::test]
    async fn keys_follow_the_pattern_and_are_unique() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        for bad in [
            "Upper",
            "-x",
            "a b",
            "0190a5e0-0000-7000-8000-000000000001",
            &"a".repeat(65),
        ] {
            let r = create(&s, &t, policy(bad)).await;
            r.assert_error(400, "invalid_input");
            assert!(r.text.contains("key"), "{}", r.text);
        }
        assert_eq!(create(&s, &t, policy("team.read-1_x")).await.status, 201);
        create(&s, &t, policy("team.read-1_x"))
            .await
            .assert_error(409, "conflict");
        // a key can be cleared and another policy can take it then
        let second = create(&s, &t, policy("second")).await.body;
        let r = send(
            &s,
            &t,
            Method::PATCH,
            "/v1/policies/team.read-1_x",
            Some(json!({"key": null})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(
            &s,
            &t,
            Method::PATCH,
            &format!("/v1/policies/{}", second["id"].as_str().unwrap()),
            Some(json!({"key": "team.read-1_x"})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
        send(&s, &t, Method::GET, "/v1/policies/second", None)
            .await
            .assert_error(404, "not_found");
    }

    #[tokio::test]
    async fn list_paginates_with_cursors_and_pages() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let mut ids = Vec::new();
        for i in 0..7 {
            ids.push(
                create(&s, &t, policy(&format!("p{i}"))).await.body["id"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
        }
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            let q = match &token {
                Some(tok) => format!("/v1/policies?per_page=3&next_page_token={tok}"),
                None => "/v1/policies?per_page=3".to_string(),
            };
            let r = send(&s, &t, Method::GET, &q, None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["total"], 7);
            pages += 1;
            assert_eq!(r.body["page"], pages);
            seen.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_string()),
            );
            match r.body["next_page_token"].as_str() {
                Some(tok) => token = Some(tok.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, ids);
        assert_eq!(pages, 3);
        let r = send(&s, &t, Method::GET, "/v1/policies?per_page=3&page=3", None).await;
        assert_eq!(r.body["items"].as_array().unwrap().len(), 1);
        assert_eq!(r.body["items"][0]["id"], ids[6].as_str());
        for bad in [
            "per_page=0",
            "per_page=101",
            "page=0",
            "next_page_token=abc.def",
            "sort=x",
        ] {
            send(&s, &t, Method::GET, &format!("/v1/policies?{bad}"), None)
                .await
                .assert_error(400, "invalid_input");
        }
        // a token from the entity list is not valid here
        let ents = send(&s, &t, Method::GET, "/v1/entities?per_page=1", None).await;
        assert!(ents.body["next_page_token"].is_null());
    }

    /// `sort_order=PRIORITY_DESC`: highest priority first, ties oldest first (the order a
    /// governing policy is chosen in), walked with cursors or pages; a cursor belongs to
    /// the order it was issued in.
    #[tokio::test]
    async fn list_by_priority_with_ties_oldest_first() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let mut made = Vec::new();
        for (i, priority) in [5, 20, 5, 0, 20, -3, 5].into_iter().enumerate() {
            let mut p = policy(&format!("p{i}"));
            p["priority"] = json!(priority);
            let id = create(&s, &t, p).await.body["id"].as_str().unwrap().to_string();
            made.push((priority, i, id));
        }
        let mut want = made.clone();
        want.sort_by_key(|(priority, i, _)| (-priority, *i));
        let want: Vec<String> = want.into_iter().map(|(_, _, id)| id).collect();
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let q = match &token {
                Some(tok) => {
                    format!("/v1/policies?sort_order=PRIORITY_DESC&per_page=2&next_page_token={tok}")
                }
                None => "/v1/policies?sort_order=PRIORITY_DESC&per_page=2".to_string(),
            };
            let r = send(&s, &t, Method::GET, &q, None).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["total"], 7);
            seen.extend(
                r.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| p["id"].as_str().unwrap().to_string()),
            );
            match r.body["next_page_token"].as_str() {
                Some(tok) => token = Some(tok.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, want);
        let r = send(&s, &t, Method::GET, "/v1/policies?sort_order=PRIORITY_DESC&per_page=2&page=2", None).await;
        assert_eq!(r.body["items"][0]["id"], want[2].as_str());
        // A cursor of one order is refused in the other.
        let r = send(&s, &t, Method::GET, "/v1/policies?sort_order=PRIORITY_DESC&per_page=2", None).await;
        let tok = r.body["next_page_token"].as_str().unwrap();
        send(&s, &t, Method::GET, &format!("/v1/policies?per_page=2&next_page_token={tok}"), None)
            .await
            .assert_error(400, "invalid_input");
        send(&s, &t, Method::GET, "/v1/policies?sort_order=priority", None)
            .await
            .assert_error(400, "invalid_input");
        let r = send(&s, &t, Method::GET, "/v1/policies?sort_order=CREATED_AT_ASC&per_page=1", None).await;
        assert_eq!(r.body["items"][0]["id"], made[0].2.as_str());
    }

    #[tokio::test]
    async fn other_tenants_policies_are_not_found() {
        let s = TestServer::start().await;
        let a = s.tenant().await;
        let b = s.tenant().await;
        let p = as_stored(create(&s, &a, policy("shared-name")).await.body);
        let id = p["id"].as_str().unwrap();
        for path in [
            format!("/v1/policies/{id}"),
            "/v1/policies/shared-name".to_string(),
        ] {
            send(&s, &b, Method::GET, &path, None)
                .await
                .assert_error(404, "not_found");
            send(&s, &b, Method::PATCH, &path, Some(json!({"name": "x"})))
                .await
                .assert_error(404, "not_found");
            send(&s, &b, Method::DELETE, &path, None)
                .await
                .assert_error(404, "not_found");
        }
        assert_eq!(
            send(&s, &b, Method::GET, "/v1/policies", None).await.body["total"],
            0
        );
        // B may use the same key
        assert_eq!(create(&s, &b, policy("shared-name")).await.status, 201);
        let still = send(&s, &a, Method::GET, &format!("/v1/policies/{id}"), None).await;
        assert_eq!(still.body, p);
    }

    #[tokio::test]
    async fn authors_write_and_auditors_read() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let author = s.key(&t, "author").await;
        let auditor = s.key(&t, "auditor").await;
        let r = s
            .call(
                Method::POST,
                "/v1/policies",
                Some(&author),
                Some(&t.id),
                Some(policy("a")),
            )
            .await;
        assert_eq!(r.status, 201);
        let r = s
            .call(
                Method::GET,
                "/v1/policies/a",
                Some(&auditor),
                Some(&t.id),
                None,
            )
            .await;
        assert_eq!(r.status, 200);
        s.call(
            Method::PATCH,
            "/v1/policies/a",
            Some(&auditor),
            Some(&t.id),
            Some(json!({"name": "x"})),
        )
        .await
        .assert_error(403, "forbidden");
    }

    #[tokio::test]
    async fn lints_come_back_as_warnings_and_never_refuse_the_write() {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let permit = json!({"effect": "permit", "principal_scope_type": "eq",
            "principal_entity_type": "User", "principal_entity_id": "alice",
            "action_scope_type": "in", "action_ids": ["request"],
            "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "github"});
        let messages = |r: &Resp| -> Vec<String> {
            r.body["notices"].as_array().unwrap_or_else(|| panic!("{}", r.text)).iter().map(|n| {
                assert_eq!(n["severity"], "warning", "{n}");
                n["message"].as_str().unwrap().to_string()
            }).collect()
        };
        // a clean policy: no warning
        let r = create(&s, &t, json!({"key": "clean", "name": "c", "max_duration_seconds": 60,
            "rules": [permit]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(messages(&r), Vec::<String>::new());
        // a duplicate inside the policy and of another enabled policy's rule
        let r = create(&s, &t, json!({"key": "dup", "name": "d", "max_duration_seconds": 60,
            "rules": [permit, permit]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let m = messages(&r);
        assert!(m.contains(&"rule 0: duplicates rule 0 of policy clean".to_string()), "{m:?}");
        assert!(m.contains(&"rule 1: duplicates rule 0".to_string()), "{m:?}");
        // an unconditional forbid over the permit's whole scope: the permit can never allow
        let r = create(&s, &t, json!({"key": "block", "name": "b", "max_duration_seconds": 60,
            "rules": [{"effect": "forbid", "principal_scope_type": "any",
                "action_scope_type": "any", "resource_scope_type": "eq",
                "resource_entity_type": "App", "resource_entity_id": "github"}]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mut narrower = permit.clone();
        narrower["conditions"] = json!("when { context.reason != \"\" }");
        let r = create(&s, &t, json!({"key": "shadowed", "name": "s", "max_duration_seconds": 60,
            "rules": [narrower]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(messages(&r), vec![
            "rule 0: can never allow: forbid rule 0 of policy block has no conditions and covers its whole scope".to_string()
        ]);
        // a forbid with a condition, or of another resource, shadows nothing
        let r = send(&s, &t, Method::PATCH, "/v1/policies/block", Some(json!({"rules": [{
            "effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any",
            "resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "github",
            "conditions": "when { context.extension_count > 1 }"}]}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = send(&s, &t, Method::PATCH, "/v1/policies/shadowed", Some(json!({"name": "s2"}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(messages(&r), Vec::<String>::new());
        // a rule no request of the schema can match (Cedar's own lint)
        let mut never = permit.clone();
        never["conditions"] = json!("when { false }");
        let r = create(&s, &t, json!({"key": "never", "name": "n", "max_duration_seconds": 60,
            "rules": [never]})).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let m = messages(&r);
        assert!(m.len() == 1 && m[0].starts_with("rule 0: ") && m[0].contains("impossible"), "{m:?}");
    }
}
