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
        }
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
        let r = c.preview("PUT", "/v1/entities?x=1", Some(json!([]))).await;
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
