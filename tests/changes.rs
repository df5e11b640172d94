//! Change safety: `POST /v1/changes/preview` (what a configuration write would do to active
//! grants and recent decisions, writing nothing) and policy tests against a candidate change.

mod common;

use common::{send, Resp, Tenant, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::BTreeSet;

struct Ctx {
    s: TestServer,
    t: Tenant,
    req: String,
}

fn group_rule(group: &str) -> Value {
    json!({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
        "principal_entity_id": group, "action_scope_type": "in", "action_ids": ["request", "extend"],
        "resource_scope_type": "any"})
}

impl Ctx {
    /// Groups `engineering` and `sales`; alice and bob in engineering, carol in sales; app
    /// `github`; policy `eng` (engineering, 8 h) and `sales` (sales, 8 h).
    async fn new() -> Ctx {
        let s = TestServer::start().await;
        let t = s.tenant().await;
        let req = s.key(&t, "requester").await;
        let c = Ctx { s, t, req };
        let r = c
            .admin(Method::PUT, "/v1/entities", Some(entities(true)))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let mut last = None;
        for (key, group) in [("eng", "engineering"), ("sales", "sales")] {
            let r = c
                .admin(
                    Method::POST,
                    "/v1/policies",
                    Some(
                        json!({"key": key, "name": key, "max_duration_seconds": 8 * 3600,
                        "rules": [group_rule(group)]}),
                    ),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.text);
            last = Some(r);
        }
        // The writes' re-evaluations (the last supersedes the others) finish before a test
        // starts: a test that compares the database before and after must not see one
        // finish in between.
        c.finished(&last.expect("two policies")).await;
        c
    }

    async fn admin(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.t.admin_key, &self.t, m, path, body).await
    }

    async fn call(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.req, &self.t, m, path, body).await
    }

    /// A granted request of `user` on github for `seconds`: its id.
    async fn grant(&self, user: &str, seconds: i64) -> String {
        let r = self
            .call(
                Method::POST,
                "/v1/grants",
                Some(json!({"principal": {"type": "User", "id": user},
                    "resource": {"type": "App", "id": "github"},
                    "duration_seconds": seconds, "reason": "work"})),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        r.body["id"].as_str().unwrap().to_string()
    }

    async fn preview(&self, method: &str, path: &str, body: Option<Value>) -> Resp {
        self.admin(
            Method::POST,
            "/v1/changes/preview",
            Some(json!({"method": method, "path": path, "body": body})),
        )
        .await
    }

    async fn set_on_change(&self, mode: &str) {
        let r = self
            .admin(
                Method::PUT,
                "/v1/settings",
                Some(json!({"on_change": mode})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    /// The re-evaluation a write's answer names, once it is no longer open.
    async fn finished(&self, write: &Resp) -> Value {
        let id = write.body["reevaluation_id"].as_i64().unwrap_or_else(|| {
            write.headers["x-reevaluation-id"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        });
        assert_eq!(
            write.headers["x-reevaluation-id"].to_str().unwrap(),
            id.to_string()
        );
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let r = self
                .admin(Method::GET, &format!("/v1/reevaluations/{id}"), None)
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            if r.body["status"] == "done" || r.body["status"] == "superseded" {
                return r.body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still open: {}",
                r.text
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    async fn grant_state(&self, id: &str) -> Value {
        let r = self
            .admin(Method::GET, &format!("/v1/grants/{id}"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }

    async fn ok_preview(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let r = self.preview(method, path, body).await;
        assert_eq!(r.status, 200, "{}", r.text);
        r.body
    }
}

/// The entity store; with `alice_in_eng: false`, alice belongs to no group.
fn entities(alice_in_eng: bool) -> Value {
    let eng = json!([{"type": "Group", "id": "engineering"}]);
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "sales"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {},
            "parents": if alice_in_eng { eng.clone() } else { json!([]) }},
        {"uid": {"type": "User", "id": "bob"}, "attrs": {}, "parents": eng},
        {"uid": {"type": "User", "id": "carol"}, "attrs": {}, "parents": [{"type": "Group", "id": "sales"}]},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []}
    ])
}

fn ids(items: &Value, outcome: &str) -> BTreeSet<String> {
    items
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["outcome"] == outcome)
        .map(|i| i["grant_id"].as_str().unwrap().to_string())
        .collect()
}

/// `v` as text with every UUID replaced by `<id>`.
fn no_ids(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        if rest.len() >= 36 && uuid::Uuid::try_parse(&rest[..36]).is_ok() {
            out.push_str("<id>");
            rest = &rest[36..];
        } else {
            let ch = rest.chars().next().unwrap();
            out.push(ch);
            rest = &rest[ch.len_utf8()..];
        }
    }
    out
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// Every row of every table, as text, in a stable order: what a preview must not change.
async fn dump(s: &TestServer) -> Vec<(String, Vec<String>)> {
    let db = s.db().await;
    let postgres = s.db_url.starts_with("postgres");
    let tables: Vec<(String,)> = if postgres {
        sqlx::query_as(
            "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
        )
        .fetch_all(&db)
        .await
        .unwrap()
    } else {
        sqlx::query_as("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1")
            .fetch_all(&db)
            .await
            .unwrap()
    };
    let mut out = Vec::new();
    for (t,) in tables {
        let sql = if postgres {
            format!("SELECT CAST(x AS TEXT) FROM \"{t}\" AS x")
        } else {
            let cols: Vec<(String,)> =
                sqlx::query_as(&format!("SELECT name FROM pragma_table_info('{t}')"))
                    .fetch_all(&db)
                    .await
                    .unwrap();
            let parts: Vec<String> = cols.iter().map(|(c,)| format!("quote(\"{c}\")")).collect();
            format!("SELECT {} FROM \"{t}\"", parts.join(" || '|' || "))
        };
        let mut rows: Vec<String> = sqlx::query_as::<_, (String,)>(&sql)
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|(r,)| r)
            // the readiness probe's heartbeat is no write of a preview
            .filter(|r| !r.contains("probe"))
            .collect();
        rows.sort();
        out.push((t, rows));
    }
    db.close().await;
    out
}

backends! {
    #[tokio::test]
    async fn removing_a_user_from_a_group_previews_exactly_their_grants_and_decisions() {
        let c = Ctx::new().await;
        let alice = c.grant("alice", 3600).await;
        let alice2 = c.grant("alice", 7200).await;
        let _bob = c.grant("bob", 3600).await;
        let _carol = c.grant("carol", 3600).await;
        // a decision of alice's and one of carol's, recorded
        for user in ["alice", "carol"] {
            let r = c.call(Method::POST, "/v1/authorize", Some(json!({
                "principal": {"type": "User", "id": user}, "action": {"type": "Action", "id": "request"},
                "resource": {"type": "App", "id": "github"},
                "context": {"scopes": [], "reason": "", "extension_count": 0}}))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["decision"], "allow", "{}", r.text);
        }
        let p = c.ok_preview("PUT", "/v1/entities", Some(entities(false))).await;
        assert_eq!(p["grants"]["examined"], 4, "{p}");
        assert_eq!((&p["grants"]["complete"], &p["decisions"]["complete"]), (&json!(true), &json!(true)));
        assert_eq!(ids(&p["grants"]["items"], "denied"), set(&[&alice, &alice2]), "{p}");
        assert_eq!(p["grants"]["counts"], json!({"denied": 2, "clamped": 0, "policy_changed": 0}));
        let item = &p["grants"]["items"][0];
        assert_eq!(item["deny_reason"], "no_permit", "{item}");
        assert_eq!(item["principal"], json!({"type": "User", "id": "alice"}));
        // alice's two grant requests and her authorize call would flip; nothing of carol's or bob's
        let d = &p["decisions"];
        assert_eq!(d["replayed"], 6, "{d}");
        assert_eq!(d["counts"]["flipped"], 3, "{d}");
        assert_eq!(d["counts"]["allow_to_deny"], 3, "{d}");
        for f in d["items"].as_array().unwrap() {
            assert_eq!(f["principal"]["id"], "alice", "{f}");
            assert_eq!(f["before"]["decision"], "allow");
            assert_eq!(f["after"]["decision"], "deny");
            assert_eq!(f["after"]["deny_reason"], "no_permit");
        }
        let kinds: BTreeSet<&str> = d["items"].as_array().unwrap().iter()
            .map(|f| f["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, BTreeSet::from(["authorize", "grant.request"]));
        // What the preview said is what the write then does to new decisions.
        let r = c.admin(Method::PUT, "/v1/entities", Some(entities(false))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.call(Method::POST, "/v1/grants", Some(json!({"principal": {"type": "User", "id": "alice"},
            "resource": {"type": "App", "id": "github"}, "duration_seconds": 3600, "reason": "work"}))).await;
        r.assert_error(403, "access_denied");
        // and, the change made, previewing it again finds the same grants still standing
        // on a permission they no longer have
        let p = c.ok_preview("PUT", "/v1/entities", Some(entities(false))).await;
        assert_eq!(ids(&p["grants"]["items"], "denied"), set(&[&alice, &alice2]), "{p}");
    }

    #[tokio::test]
    async fn a_lower_maximum_previews_clamps_and_a_disabled_policy_previews_moves_and_denials() {
        let c = Ctx::new().await;
        // a second policy that also admits alice, at a lower priority
        let r = c.admin(Method::POST, "/v1/policies", Some(json!({"key": "everyone", "name": "everyone",
            "priority": -1, "max_duration_seconds": 2 * 3600,
            "rules": [{"effect": "permit", "principal_scope_type": "any", "action_scope_type": "in",
                "action_ids": ["request", "extend"], "resource_scope_type": "any",
                "conditions": "when { context.reason == \"work\" }"}]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let short = c.grant("alice", 1800).await;
        let long = c.grant("alice", 6 * 3600).await;
        let g = c.admin(Method::GET, &format!("/v1/grants/{long}"), None).await;
        assert_eq!(g.body["policy_key"], "eng", "{}", g.text);
        // eng capped at 1 h: the 6 h grant would be cut to granted_at + 1 h
        let p = c.ok_preview("PATCH", "/v1/policies/eng", Some(json!({"max_duration_seconds": 3600}))).await;
        assert_eq!(ids(&p["grants"]["items"], "clamped"), set(&[&long]), "{p}");
        let item = &p["grants"]["items"][0];
        let granted = grantd::clock::parse_ts(g.body["granted_at"].as_str().unwrap()).unwrap();
        let cut = grantd::clock::parse_ts(item["new_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!(cut - granted, chrono::Duration::hours(1), "{item}");
        // eng disabled: `everyone` takes both over, and cuts the long one to 2 h
        let p = c.ok_preview("PATCH", "/v1/policies/eng", Some(json!({"enabled": false}))).await;
        assert_eq!(ids(&p["grants"]["items"], "policy_changed"), set(&[&short]), "{p}");
        assert_eq!(ids(&p["grants"]["items"], "clamped"), set(&[&long]), "{p}");
        for i in p["grants"]["items"].as_array().unwrap() {
            assert_eq!(i["new_policy_key"], "everyone", "{i}");
        }
        // both policies gone: denied
        let p = c.ok_preview("PATCH", "/v1/policies/everyone", Some(json!({"enabled": false}))).await;
        assert!(p["grants"]["items"].as_array().unwrap().is_empty(), "{p}");
        let r = c.admin(Method::PATCH, "/v1/policies/everyone", Some(json!({"enabled": false}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let p = c.ok_preview("PATCH", "/v1/policies/eng", Some(json!({"enabled": false}))).await;
        assert_eq!(ids(&p["grants"]["items"], "denied"), set(&[&short, &long]), "{p}");
    }

    #[tokio::test]
    async fn extensions_are_replayed_from_their_events_and_the_window_bounds_the_replay() {
        let c = Ctx::new().await;
        let id = c.grant("bob", 3600).await;
        let r = c.call(Method::POST, &format!("/v1/grants/{id}/extend"),
            Some(json!({"duration_seconds": 7200}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // a forbid on extensions past the first: the recorded extension (count 0) stays allowed
        let forbid_later = json!({"key": "one-extension", "name": "one extension", "max_duration_seconds": 3600,
            "rules": [{"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "in",
                "action_ids": ["extend"], "resource_scope_type": "any",
                "conditions": "when { context.extension_count >= 1 }"}]});
        let p = c.ok_preview("POST", "/v1/policies", Some(forbid_later)).await;
        assert_eq!(p["decisions"]["counts"]["flipped"], 0, "{p}");
        // but the grant itself, re-decided as its last decision (an extension, its first)
        // stays too
        assert!(p["grants"]["items"].as_array().unwrap().is_empty(), "{p}");
        let forbid_all = json!({"key": "no-extensions", "name": "no extensions", "max_duration_seconds": 3600,
            "rules": [{"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "in",
                "action_ids": ["extend"], "resource_scope_type": "any"}]});
        let p = c.ok_preview("POST", "/v1/policies", Some(forbid_all.clone())).await;
        let d = &p["decisions"];
        assert_eq!(d["counts"]["flipped"], 1, "{d}");
        assert_eq!(d["items"][0]["kind"], "grant.extend", "{d}");
        assert_eq!(d["items"][0]["after"]["deny_reason"], "forbid", "{d}");
        assert_eq!(d["items"][0]["action"]["id"], "extend", "{d}");
        // the grant was last decided as an extension: a forbid on extensions denies it
        assert_eq!(ids(&p["grants"]["items"], "denied"), set(&[&id]), "{p}");
        // eight days on, the default window holds nothing; `since` reaches back
        c.s.clock.advance(chrono::Duration::days(8));
        let p = c.ok_preview("POST", "/v1/policies", Some(forbid_all.clone())).await;
        assert_eq!(p["decisions"]["replayed"], 0, "{p}");
        let since = grantd::clock::format_ts(&(grantd::clock::Clock::now(&*c.s.clock) - chrono::Duration::days(9)));
        let r = c.admin(Method::POST, "/v1/changes/preview", Some(json!({"method": "POST",
            "path": "/v1/policies", "body": forbid_all, "since": since}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["decisions"]["replayed"], 2, "{}", r.text);
    }

    #[tokio::test]
    async fn an_invalid_change_answers_as_its_write_would_and_nothing_is_written() {
        let c = Ctx::new().await;
        c.grant("alice", 3600).await;
        let bad_schema = "entity User; entity App; action request appliesTo { principal: [User], resource: [App] };";
        let cases: Vec<(&str, &str, Option<Value>)> = vec![
            ("POST", "/v1/policies", Some(json!({"name": "x", "max_duration_seconds": 60,
                "rules": [{"effect": "permit", "principal_scope_type": "any", "action_scope_type": "any",
                    "resource_scope_type": "any", "conditions": "when { context.nope == 1 }"}]}))),
            ("POST", "/v1/policies", Some(json!({"key": "eng", "name": "again", "max_duration_seconds": 60,
                "rules": [group_rule("engineering")]}))),
            ("POST", "/v1/policies", Some(json!({"name": "no max"}))),
            ("PATCH", "/v1/policies/nope", Some(json!({"enabled": false}))),
            ("PATCH", "/v1/policies/eng", Some(json!({"max_duration_seconds": -5}))),
            ("DELETE", "/v1/policies/eng", None),
            ("PUT", "/v1/schema", Some(json!({"cedarschema": bad_schema}))),
            ("PUT", "/v1/schema", Some(json!({"cedarschema": "entity {"}))),
            ("PUT", "/v1/entities", Some(json!([{"uid": {"type": "Planet", "id": "x"}, "attrs": {}, "parents": []}]))),
            ("PUT", "/v1/entities", Some(json!([{"uid": {"type": "User", "id": "x"}, "attrs": {"email": 5}, "parents": []}]))),
            ("DELETE", "/v1/entities/User/nobody", None),
        ];
        let before = dump(&c.s).await;
        for (m, path, body) in cases {
            let p = c.preview(m, path, body.clone()).await;
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            let w = c.admin(method, path, body).await;
            assert!(w.status.is_client_error(), "{m} {path}: the write itself succeeded: {}", w.text);
            assert_eq!(p.status, w.status, "{m} {path}: preview {} vs write {}", p.text, w.text);
            assert_eq!(p.body["code"], w.body["code"], "{m} {path}");
            // the same words (a new rule's id is made afresh by each)
            assert_eq!(no_ids(&p.body["message"]), no_ids(&w.body["message"]), "{m} {path}");
            assert_eq!(no_ids(&p.body["notices"]), no_ids(&w.body["notices"]), "{m} {path}");
        }
        // the refused writes themselves change nothing but the audit log they do not touch
        // either; previews of valid changes of every kind write nothing at all
        let r = c.preview("GET", "/v1/policies", None).await;
        r.assert_error(400, "invalid_input");
        // bodies as sent, byte for byte, and paths as the router takes them
        let raw = |m: &str, path: &str, body: Option<&str>| {
            let url = format!("{}{path}", c.s.base);
            let mut r = c.s.client.request(Method::from_bytes(m.as_bytes()).unwrap(), url)
                .header("X-API-Key", &c.t.admin_key).header("X-Tenant-ID", &c.t.id)
                .header("Content-Type", "application/json");
            if let Some(b) = body {
                r = r.body(b.to_string());
            }
            async move { TestServer::read(r.send().await.unwrap()).await }
        };
        for (m, path, body) in [
            ("PATCH", "/v1/policies/eng", Some(r#"{"enabled": false, "enabled": true}"#)),
            ("PUT", "/v1/schema", Some(r#"{"cedarschema": "x", "cedarschema": "y"}"#)),
            ("PATCH", "/v1/policies/eng", None),
            ("PATCH", "/v1/policies/%00", Some(r#"{"enabled": false}"#)),
            ("PATCH", "/v1/policies/%FF", Some(r#"{"enabled": false}"#)),
            ("DELETE", "/v1/entities/User/al%00ice", None),
        ] {
            let preview = match body {
                Some(b) => format!(r#"{{"method": "{m}", "path": "{path}", "body": {b}}}"#),
                None => format!(r#"{{"method": "{m}", "path": "{path}"}}"#),
            };
            let p = raw("POST", "/v1/changes/preview", Some(&preview)).await;
            let w = raw(m, path, body).await;
            assert!(w.status.is_client_error(), "{m} {path}: {}", w.text);
            assert_eq!((p.status, &p.body["message"]), (w.status, &w.body["message"]), "{m} {path}");
        }
        // the query string is not part of the route, as for the write
        let r = c.preview("PUT", "/v1/entities?x=1", Some(json!([]))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        // as the router matches: the method in upper case, the path exactly
        let r = c.preview("patch", "/v1/policies/eng", Some(json!({"enabled": false}))).await;
        r.assert_error(400, "invalid_input");
        let r = c.preview("POST", "/v1/policies/", Some(json!({}))).await;
        r.assert_error(400, "invalid_input");
        let r = c.admin(Method::POST, "/v1/changes/preview", Some(json!({"method": "DELETE",
            "path": "/v1/entities/User/alice", "since": "2999-01-01T00:00:00Z"}))).await;
        r.assert_error(400, "invalid_input");
        for (m, path, body) in [
            ("POST", "/v1/policies", Some(json!({"key": "new", "name": "new", "max_duration_seconds": 60,
                "rules": [group_rule("sales")]}))),
            ("PATCH", "/v1/policies/eng", Some(json!({"enabled": false}))),
            ("DELETE", "/v1/policies/sales", None),
            ("PUT", "/v1/schema", Some(json!({"cedarschema": std::fs::read_to_string(
                common::policies_dir().join("schema.cedarschema")).unwrap() + "\nentity Extra;"}))),
            ("PUT", "/v1/entities", Some(entities(false))),
            ("DELETE", "/v1/entities/User/alice", None),
        ] {
            let r = c.preview(m, path, body).await;
            assert_eq!(r.status, 200, "{m} {path}: {}", r.text);
        }
        let after = dump(&c.s).await;
        assert_eq!(before.len(), after.len());
        for ((t, a), (_, b)) in before.iter().zip(&after) {
            assert_eq!(a, b, "table {t} changed");
        }
    }

    #[tokio::test]
    async fn only_authors_and_admins_preview_and_previews_carry_the_writes_lints() {
        let c = Ctx::new().await;
        for role in ["requester", "auditor"] {
            let key = c.s.key(&c.t, role).await;
            let r = send(&c.s, &key, &c.t, Method::POST, "/v1/changes/preview",
                Some(json!({"method": "DELETE", "path": "/v1/entities/User/alice"}))).await;
            r.assert_error(403, "forbidden");
        }
        let author = c.s.key(&c.t, "author").await;
        let dup = json!({"key": "dup", "name": "dup", "max_duration_seconds": 60,
            "rules": [group_rule("sales"), group_rule("sales")]});
        let r = send(&c.s, &author, &c.t, Method::POST, "/v1/changes/preview",
            Some(json!({"method": "POST", "path": "/v1/policies", "body": dup.clone()}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let w = c.admin(Method::POST, "/v1/policies", Some(dup)).await;
        assert_eq!(w.status, 201, "{}", w.text);
        // the same warnings (rule ids are the write's own, so compare the messages)
        let msgs = |v: &Value| v.as_array().unwrap().iter()
            .map(|n| (n["severity"].clone(), n["message"].clone())).collect::<Vec<_>>();
        assert!(!msgs(&r.body["notices"]).is_empty(), "{}", r.text);
        assert_eq!(msgs(&r.body["notices"]), msgs(&w.body["notices"]));
    }

    #[tokio::test]
    async fn policy_tests_run_against_a_candidate_change() {
        let c = Ctx::new().await;
        let cases = json!([{"name": "alice requests", "principal": {"type": "User", "id": "alice"},
            "action": {"type": "Action", "id": "request"}, "resource": {"type": "App", "id": "github"},
            "context": {"scopes": [], "reason": "", "extension_count": 0}, "decision": "allow",
            "determining": ["eng"]}]);
        let r = c.admin(Method::POST, "/v1/policies/test", Some(json!({"cases": cases}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["failed"], 0, "{}", r.text);
        let r = c.admin(Method::POST, "/v1/policies/test", Some(json!({"cases": cases,
            "change": {"method": "PUT", "path": "/v1/entities", "body": entities(false)}}))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["failed"], 1, "{}", r.text);
        // an invalid change answers as its write would
        let r = c.admin(Method::POST, "/v1/policies/test", Some(json!({"cases": cases,
            "change": {"method": "DELETE", "path": "/v1/entities/User/nobody"}}))).await;
        r.assert_error(404, "not_found");
        // nothing was written
        let r = c.admin(Method::POST, "/v1/policies/test", Some(json!({"cases": cases}))).await;
        assert_eq!(r.body["failed"], 0, "{}", r.text);
    }
}

/// `(grant id, grant.reevaluate events of it)` for every grant with any.
async fn reevaluate_events(
    s: &TestServer,
    t: &Tenant,
) -> std::collections::BTreeMap<String, Vec<Value>> {
    let mut out: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for (kind, body) in s.events(&t.id).await {
        if kind == "grant.reevaluate" {
            out.entry(body["subject"]["id"].as_str().unwrap().to_string())
                .or_default()
                .push(body);
        }
    }
    out
}

/// The ids `grants/list` finds with `review_required` set.
async fn flagged(c: &Ctx) -> BTreeSet<String> {
    let r = c
        .admin(
            Method::POST,
            "/v1/grants/list?per_page=100",
            Some(
                json!([{"attribute": "review_required", "operator": "EQUALS",
                "values": [{"value": true}]}]),
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["review_required"], true, "{g}");
            g["id"].as_str().unwrap().to_string()
        })
        .collect()
}

backends! {
    #[tokio::test]
    async fn reevaluation_flags_clamps_or_revokes_exactly_what_the_preview_listed() {
        for mode in ["flag", "clamp", "revoke"] {
            let c = Ctx::new().await;
            c.set_on_change(mode).await;
            // bob alone may also hold anything for up to 2 h, by a second policy
            let r = c.admin(Method::POST, "/v1/policies", Some(json!({"key": "bob", "name": "bob",
                "priority": -1, "max_duration_seconds": 2 * 3600,
                "rules": [{"effect": "permit", "principal_scope_type": "eq", "principal_entity_type": "User",
                    "principal_entity_id": "bob", "action_scope_type": "in",
                    "action_ids": ["request", "extend"], "resource_scope_type": "any"}]}))).await;
            assert_eq!(r.status, 201, "{}", r.text);
            let a1 = c.grant("alice", 3600).await;
            let a6 = c.grant("alice", 6 * 3600).await;
            let b1 = c.grant("bob", 3600).await;
            let b6 = c.grant("bob", 6 * 3600).await;
            let carol = c.grant("carol", 3600).await;
            let change = json!({"enabled": false});
            let p = c.ok_preview("PATCH", "/v1/policies/eng", Some(change.clone())).await;
            let items = &p["grants"]["items"];
            assert_eq!(ids(items, "denied"), set(&[&a1, &a6]), "{p}");
            assert_eq!(ids(items, "clamped"), set(&[&b6]), "{p}");
            assert_eq!(ids(items, "policy_changed"), set(&[&b1]), "{p}");
            let cut = items.as_array().unwrap().iter().find(|i| i["grant_id"] == b6.as_str())
                .unwrap()["new_expires_at"].clone();
            let before = c.grant_state(&b6).await;

            let w = c.admin(Method::PATCH, "/v1/policies/eng", Some(change)).await;
            assert_eq!(w.status, 200, "{}", w.text);
            let r = c.finished(&w).await;
            let version = w.body["policy_set_version"].as_i64().unwrap();
            assert_eq!(r["status"], "done", "{r}");
            assert_eq!(r["on_change"], mode, "{r}");
            assert_eq!(r["found"], json!({"examined": 5, "denied": 2, "clamped": 1, "policy_changed": 1}), "{r}");
            // clamp and revoke also move grants to the policy that now governs them
            let (flags, clamps, revokes, moves) = match mode {
                "flag" => (2, 0, 0, 0),
                "clamp" => (2, 1, 0, 1),
                _ => (0, 1, 2, 1),
            };
            assert_eq!(r["applied"], json!({"flagged": flags, "clamped": clamps, "revoked": revokes,
                "cleared": 0, "moved": moves}), "{r}");

            let denied = set(&[&a1, &a6]);
            if mode == "revoke" {
                assert!(flagged(&c).await.is_empty());
                for id in &denied {
                    let g = c.grant_state(id).await;
                    assert_eq!(g["status"], "REVOKED", "{g}");
                    assert_eq!(g["revoked_by"], "policy-change", "{g}");
                }
            } else {
                assert_eq!(flagged(&c).await, denied);
            }
            let b6_now = c.grant_state(&b6).await;
            if mode == "flag" {
                assert_eq!(b6_now["expires_at"], before["expires_at"], "{b6_now}");
                assert_eq!(b6_now["policy_key"], "eng", "{b6_now}");
            } else {
                assert_eq!(b6_now["expires_at"], cut, "{b6_now}");
                assert_eq!(b6_now["policy_key"], "bob", "{b6_now}");
            }
            for id in [&b1, &carol] {
                let g = c.grant_state(id).await;
                assert_eq!(g["review_required"], false, "{g}");
                assert_eq!(g["status"], "GRANTED", "{g}");
            }
            let b1_now = c.grant_state(&b1).await;
            assert_eq!(b1_now["policy_key"], if mode == "flag" { "eng" } else { "bob" }, "{b1_now}");
            // one event for each grant changed, naming the version that caused it
            let events = reevaluate_events(&c.s, &c.t).await;
            let mut changed = denied.clone();
            if mode != "flag" {
                changed.insert(b6.clone());
                changed.insert(b1.clone());
            }
            assert_eq!(events.keys().cloned().collect::<BTreeSet<_>>(), changed, "{events:?}");
            for (id, list) in &events {
                assert_eq!(list.len(), 1, "{id}: {list:?}");
                assert_eq!(list[0]["policy_set_version"], version, "{list:?}");
                assert_eq!(list[0]["request"]["reevaluation_id"], version, "{list:?}");
            }
            // eng back: the flags clear
            let w = c.admin(Method::PATCH, "/v1/policies/eng", Some(json!({"enabled": true}))).await;
            let r = c.finished(&w).await;
            if mode != "revoke" {
                assert_eq!(r["applied"]["cleared"], 2, "{r}");
                assert!(flagged(&c).await.is_empty());
            }
        }
    }

    #[tokio::test]
    async fn removing_a_user_from_a_group_flags_or_revokes_exactly_their_grants() {
        for mode in ["flag", "revoke"] {
            let c = Ctx::new().await;
            if mode != "flag" {
                c.set_on_change(mode).await;
            }
            let alice = [c.grant("alice", 3600).await, c.grant("alice", 7200).await];
            let others = [c.grant("bob", 3600).await, c.grant("carol", 3600).await];
            let w = c.admin(Method::PUT, "/v1/entities", Some(entities(false))).await;
            assert_eq!(w.status, 200, "{}", w.text);
            let r = c.finished(&w).await;
            assert_eq!(r["found"]["denied"], 2, "{r}");
            for id in &alice {
                let g = c.grant_state(id).await;
                if mode == "flag" {
                    assert_eq!(g["review_required"], true, "{g}");
                    assert_eq!(g["status"], "GRANTED", "{g}");
                } else {
                    assert_eq!(g["status"], "REVOKED", "{g}");
                }
            }
            for id in &others {
                let g = c.grant_state(id).await;
                assert_eq!(g["review_required"], false, "{g}");
                assert_eq!(g["status"], "GRANTED", "{g}");
            }
            // an access check no longer finds a revoked grant
            let r = c.call(Method::POST, "/v1/access/check", Some(json!({
                "principal": {"type": "User", "id": "alice"}, "resource": {"type": "App", "id": "github"}}))).await;
            assert_eq!(r.body["allowed"], mode == "flag", "{}", r.text);
        }
    }

    #[tokio::test]
    async fn for_generated_changes_reevaluation_applies_exactly_what_the_preview_listed() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..6 {
            let c = Ctx::new().await;
            c.set_on_change("clamp").await;
            // more users, in random groups; policies with random maxima
            let mut ents = vec![];
            for u in 0..6 {
                let g = ["engineering", "sales"][next(2) as usize];
                ents.push(json!({"uid": {"type": "User", "id": format!("u{u}")}, "attrs": {},
                    "parents": [{"type": "Group", "id": g}]}));
            }
            let r = c.admin(Method::PUT, "/v1/entities", Some(Value::Array(ents))).await;
            assert_eq!(r.status, 200, "{}", r.text);
            let r = c.admin(Method::POST, "/v1/policies", Some(json!({"key": "wide", "name": "wide",
                "priority": -1, "max_duration_seconds": 3600 * (1 + next(4) as i64),
                "rules": [{"effect": "permit", "principal_scope_type": "any", "action_scope_type": "in",
                    "action_ids": ["request", "extend"], "resource_scope_type": "any",
                    "conditions": format!("when {{ context.reason == \"work\" && principal != User::\"u{}\" }}", next(6))}]}))).await;
            assert_eq!(r.status, 201, "{}", r.text);
            let mut grants = Vec::new();
            for _ in 0..10 {
                let u = format!("u{}", next(6));
                let hours = 1 + next(7) as i64;
                let r = c.call(Method::POST, "/v1/grants", Some(json!({"principal": {"type": "User", "id": u},
                    "resource": {"type": "App", "id": "github"}, "duration_seconds": hours * 3600,
                    "reason": "work"}))).await;
                if r.status == 201 {
                    grants.push(r.body["id"].as_str().unwrap().to_string());
                }
            }
            let (method, path, body) = match next(4) {
                0 => {
                    let u = next(6);
                    let g = ["engineering", "sales"][next(2) as usize];
                    ("PUT", "/v1/entities".to_string(), Some(json!([{"uid": {"type": "User", "id": format!("u{u}")},
                        "attrs": {}, "parents": if next(2) == 0 { json!([]) } else { json!([{"type": "Group", "id": g}]) }}])))
                }
                1 => ("PATCH", format!("/v1/policies/{}", ["eng", "sales", "wide"][next(3) as usize]),
                    Some(json!({"enabled": false}))),
                2 => ("PATCH", "/v1/policies/wide".to_string(), Some(json!({"rules": [{"effect": "permit",
                    "principal_scope_type": "any", "action_scope_type": "in", "action_ids": ["request", "extend"],
                    "resource_scope_type": "any", "conditions": "when { context.reason == \"play\" }"}]}))),
                _ => ("POST", "/v1/policies".to_string(), Some(json!({"key": "stop", "name": "stop",
                    "max_duration_seconds": 60, "rules": [{"effect": "forbid", "principal_scope_type": "eq",
                    "principal_entity_type": "User", "principal_entity_id": format!("u{}", next(6)),
                    "action_scope_type": "any", "resource_scope_type": "any"}]}))),
            };
            let p = c.ok_preview(method, &path, body.clone()).await;
            let items = p["grants"]["items"].clone();
            let before: Vec<Value> = futures_util::future::join_all(grants.iter().map(|g| c.grant_state(g))).await;
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let w = c.admin(m, &path, body).await;
            assert!(w.status.is_success(), "round {round}: {}", w.text);
            let r = c.finished(&w).await;
            assert_eq!(r["status"], "done", "round {round}: {r}");
            let after: Vec<Value> = futures_util::future::join_all(grants.iter().map(|g| c.grant_state(g))).await;
            let now_flagged: BTreeSet<String> = after.iter().filter(|g| g["review_required"] == true)
                .map(|g| g["id"].as_str().unwrap().to_string()).collect();
            assert_eq!(now_flagged, ids(&items, "denied"), "round {round}: {method} {path}: {p}");
            let cut: BTreeSet<String> = before.iter().zip(&after)
                .filter(|(b, a)| b["expires_at"] != a["expires_at"])
                .map(|(_, a)| a["id"].as_str().unwrap().to_string()).collect();
            assert_eq!(cut, ids(&items, "clamped"), "round {round}: {method} {path}: {p}");
            for i in items.as_array().unwrap().iter().filter(|i| i["outcome"] == "clamped") {
                let a = after.iter().find(|g| g["id"] == i["grant_id"]).unwrap();
                assert_eq!(a["expires_at"], i["new_expires_at"], "round {round}");
            }
            assert_eq!(r["found"]["denied"], p["grants"]["counts"]["denied"], "round {round}");
            assert_eq!(r["found"]["clamped"], p["grants"]["counts"]["clamped"], "round {round}");
        }
    }

    #[tokio::test]
    async fn only_admins_change_settings_and_every_change_is_audited() {
        let c = Ctx::new().await;
        let r = c.admin(Method::GET, "/v1/settings", None).await;
        assert_eq!(r.body, json!({"on_change": "flag"}), "{}", r.text);
        let author = c.s.key(&c.t, "author").await;
        let r = send(&c.s, &author, &c.t, Method::PUT, "/v1/settings", Some(json!({"on_change": "none"}))).await;
        r.assert_error(403, "forbidden");
        let r = c.admin(Method::PUT, "/v1/settings", Some(json!({"on_change": "sometimes"}))).await;
        r.assert_error(400, "invalid_input");
        let r = c.admin(Method::PUT, "/v1/settings", Some(json!({"on_change": "none", "x": 1}))).await;
        r.assert_error(400, "invalid_input");
        c.set_on_change("none").await;
        let events: Vec<Value> = c.s.events(&c.t.id).await.into_iter()
            .filter(|(k, _)| k == "settings.update").map(|(_, b)| b).collect();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(events[0]["request"], json!({"on_change": "none"}));
        // with `none`, a write's re-evaluation is done at once and changes nothing
        let a = c.grant("alice", 3600).await;
        let w = c.admin(Method::PUT, "/v1/entities", Some(entities(false))).await;
        let r = c.finished(&w).await;
        assert_eq!(r["on_change"], "none", "{r}");
        assert_eq!(r["found"]["examined"], 0, "{r}");
        assert_eq!(c.grant_state(&a).await["review_required"], false);
        // a re-evaluation of another tenant is not found
        let other = c.s.tenant().await;
        let id = w.body["reevaluation_id"].as_i64().unwrap();
        let r = send(&c.s, &other.admin_key, &other, Method::GET, &format!("/v1/reevaluations/{id}"), None).await;
        r.assert_error(404, "not_found");
        for bad in ["x", "+1", "01", "-1", "99999999999999999999"] {
            let r = c.admin(Method::GET, &format!("/v1/reevaluations/{bad}"), None).await;
            r.assert_error(404, "not_found");
        }
    }
}

/// A re-evaluation killed part-way (`kill -9`) resumes when the server starts again, and
/// every grant is handled exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reevaluation_resumes_after_kill_9_and_handles_each_grant_once_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/grantd.db", dir.path().display());
    resumes_after_kill_9(dir, url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reevaluation_resumes_after_kill_9_and_handles_each_grant_once_postgres() {
    if !common::postgres_enabled() {
        return common::skip_postgres(module_path!());
    }
    let db = common::PgDatabase::create().await;
    resumes_after_kill_9(tempfile::tempdir().unwrap(), db.url.clone()).await;
}

async fn resumes_after_kill_9(dir: tempfile::TempDir, url: String) {
    let flags = ["--reevaluation-batch", "5", "--database-url", url.as_str()];
    let (mut child, addr, _log, _rx) = common::spawn_serve(dir.path(), &flags);
    let boot: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("grantd-bootstrap.json")).unwrap(),
    )
    .unwrap();
    let (tenant, key) = (
        boot["tenant_id"].as_str().unwrap().to_string(),
        boot["api_key"].as_str().unwrap().to_string(),
    );
    let http = reqwest::Client::new();
    let call = |base: String, m: Method, path: &str, body: Option<Value>| {
        let mut r = http
            .request(m, format!("http://{base}{path}"))
            .header("X-API-Key", &key)
            .header("X-Tenant-ID", &tenant);
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move { TestServer::read(r.send().await.unwrap()).await }
    };
    const USERS: usize = 200;
    let users = |in_crew: bool| {
        let mut v =
            vec![json!({"uid": {"type": "Group", "id": "crew"}, "attrs": {}, "parents": []})];
        v.extend((0..USERS).map(|i| {
            json!({"uid": {"type": "User", "id": format!("c{i}")}, "attrs": {},
            "parents": if in_crew { json!([{"type": "Group", "id": "crew"}]) } else { json!([]) }})
        }));
        Value::Array(v)
    };
    let r = call(addr.clone(), Method::PUT, "/v1/entities", Some(users(true))).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = call(
        addr.clone(),
        Method::POST,
        "/v1/policies",
        Some(json!({"key": "crew", "name": "crew",
        "max_duration_seconds": 8 * 3600, "rules": [group_rule("crew")]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.text);
    let r = call(
        addr.clone(),
        Method::PUT,
        "/v1/settings",
        Some(json!({"on_change": "revoke"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    use futures_util::StreamExt;
    let made: Vec<Resp> = futures_util::stream::iter(0..USERS * 5)
        .map(|i| {
            call(
                addr.clone(),
                Method::POST,
                "/v1/grants",
                Some(json!({
            "principal": {"type": "User", "id": format!("c{}", i % USERS)},
            "resource": {"type": "App", "id": "github"}, "duration_seconds": 3600})),
            )
        })
        .buffer_unordered(16)
        .collect()
        .await;
    assert!(made.iter().all(|r| r.status == 201), "{}", made[0].text);
    let grants = made.len();

    // every crew member leaves: each grant is to be revoked, five per transaction
    let w = call(
        addr.clone(),
        Method::PUT,
        "/v1/entities",
        Some(users(false)),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.text);
    let id = w.body["reevaluation_id"].as_i64().unwrap();
    let path = format!("/v1/reevaluations/{id}");
    loop {
        let r = call(addr.clone(), Method::GET, &path, None).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(
            r.body["status"] == "pending" || r.body["status"] == "running",
            "it should be part-way: {}",
            r.text
        );
        if r.body["found"]["examined"].as_i64().unwrap() >= 100 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let (mut child, addr, _log, _rx) = common::spawn_serve(dir.path(), &flags);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let done = loop {
        let r = call(addr.clone(), Method::GET, &path, None).await;
        if r.body["status"] == "done" {
            break r.body;
        }
        assert!(std::time::Instant::now() < deadline, "not done: {}", r.text);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(done["found"]["examined"], grants, "{done}");
    assert_eq!(done["found"]["denied"], grants, "{done}");
    assert_eq!(done["applied"]["revoked"], grants, "{done}");
    child.kill().unwrap();
    child.wait().unwrap();

    sqlx::any::install_default_drivers();
    let db = sqlx::AnyPool::connect(&url).await.unwrap();
    let per_grant: Vec<(String, i64)> = sqlx::query_as(
        "SELECT subject_id, COUNT(*) FROM audit_events WHERE kind = 'grant.reevaluate' \
         GROUP BY subject_id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert_eq!(per_grant.len(), grants);
    assert!(per_grant.iter().all(|(_, n)| *n == 1), "{per_grant:?}");
    let revoked: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM grants WHERE status = 'REVOKED' AND revoked_by = 'policy-change'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(revoked as usize, grants);
    db.close().await;
}

backends! {
    #[tokio::test]
    async fn a_schema_write_and_its_preview_warn_of_rules_it_makes_impossible() {
        let c = Ctx::new().await;
        let schema = std::fs::read_to_string(common::policies_dir().join("schema.cedarschema")).unwrap();
        let with = |resource: &str| json!({"cedarschema": format!(
            "{schema}\nentity Laptop;\naction borrow appliesTo {{ principal: [User], resource: [{resource}] }};")});
        let w = c.admin(Method::PUT, "/v1/schema", Some(with("Laptop"))).await;
        assert_eq!(w.status, 200, "{}", w.text);
        let r = c.admin(Method::POST, "/v1/policies", Some(json!({"key": "laptops", "name": "laptops",
            "max_duration_seconds": 3600, "rules": [{"effect": "permit", "principal_scope_type": "any",
                "action_scope_type": "in", "action_ids": ["borrow"],
                "resource_scope_type": "is", "resource_entity_type": "Laptop"}]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let apps_only = with("App");
        let schema = with("Laptop")["cedarschema"].as_str().unwrap().to_string();
        let messages = |v: &Value| -> Vec<String> {
            v["notices"].as_array().unwrap().iter().map(|n| {
                assert_eq!(n["severity"], "warning", "{n}");
                n["message"].as_str().unwrap().to_string()
            }).collect()
        };
        let p = c.ok_preview("PUT", "/v1/schema", Some(apps_only.clone())).await;
        let m = messages(&p);
        assert!(!m.is_empty() && m.iter().all(|w| w.starts_with("policy laptops: rule 0: ")), "{m:?}");
        assert!(m.iter().any(|w| w.contains("impossible")), "{m:?}");
        let w = c.admin(Method::PUT, "/v1/schema", Some(apps_only)).await;
        assert_eq!(w.status, 200, "{}", w.text);
        assert_eq!(messages(&w.body), m);
        // the schema as it was: no warnings
        let w = c.admin(Method::PUT, "/v1/schema", Some(json!({"cedarschema": schema}))).await;
        assert_eq!(w.status, 200, "{}", w.text);
        assert!(messages(&w.body).is_empty(), "{}", w.text);
    }
}

backends! {
    /// Grants changed while their batch is decided (here: shortened, which needs no
    /// decision) are decided again, and the re-evaluation ends with each of them handled
    /// exactly once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn grants_changing_under_a_reevaluation_are_each_handled_once() {
        let s = TestServer::start_with(|c| c.reevaluation_batch = 5).await;
        let t = s.tenant().await;
        let req = s.key(&t, "requester").await;
        let c = std::sync::Arc::new(Ctx { s, t, req });
        let r = c.admin(Method::PUT, "/v1/entities", Some(entities(true))).await;
        assert_eq!(r.status, 200, "{}", r.text);
        let r = c.admin(Method::POST, "/v1/policies", Some(json!({"key": "eng", "name": "eng",
            "max_duration_seconds": 8 * 3600, "rules": [group_rule("engineering")]}))).await;
        assert_eq!(r.status, 201, "{}", r.text);
        let mut grants = Vec::new();
        // fewer than a page of grants/list (100), which `flagged` reads
        for _ in 0..90 {
            grants.push(c.grant("alice", 4 * 3600).await);
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shortener = {
            let (c, grants, stop) = (c.clone(), grants.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0usize;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 5_000 {
                    let id = &grants[(n * 7) % grants.len()];
                    let g = c.grant_state(id).await;
                    let at = grantd::clock::parse_ts(g["expires_at"].as_str().unwrap()).unwrap()
                        - chrono::Duration::seconds(1);
                    let r = c.call(Method::PUT, &format!("/v1/grants/{id}"),
                        Some(json!({"expires_at": grantd::clock::format_ts(&at)}))).await;
                    assert!(r.status == 200 || r.status == 409, "{}", r.text);
                    n += 1;
                }
                n
            })
        };
        let w = c.admin(Method::PUT, "/v1/entities", Some(entities(false))).await;
        assert_eq!(w.status, 200, "{}", w.text);
        let r = c.finished(&w).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let puts = shortener.await.unwrap();
        assert!(puts > 0);
        assert_eq!(r["status"], "done", "{r}");
        assert_eq!(r["found"]["denied"], grants.len(), "{r}");
        assert_eq!(r["applied"]["flagged"], grants.len(), "{r}");
        assert_eq!(flagged(&c).await, grants.iter().cloned().collect::<BTreeSet<_>>());
        let events = reevaluate_events(&c.s, &c.t).await;
        assert_eq!(events.len(), grants.len());
        assert!(events.values().all(|l| l.len() == 1), "{events:?}");
    }
}
