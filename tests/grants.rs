//! The grant lifecycle over HTTP.

mod common;

use common::{send, Resp, Tenant, TestServer};
use grantd::clock::Clock;
use reqwest::Method;
use serde_json::{json, Value};

fn entities() -> Value {
    json!([
        {"uid": {"type": "Group", "id": "engineering"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Group", "id": "contractors"}, "attrs": {}, "parents": []},
        {"uid": {"type": "User", "id": "alice"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}]},
        {"uid": {"type": "User", "id": "carol"}, "attrs": {}, "parents": [{"type": "Group", "id": "engineering"}, {"type": "Group", "id": "contractors"}]},
        {"uid": {"type": "App", "id": "github"}, "attrs": {}, "parents": []},
        {"uid": {"type": "App", "id": "production"}, "attrs": {}, "parents": []},
        {"uid": {"type": "Entitlement", "id": "prod-admin"}, "attrs": {}, "parents": [{"type": "App", "id": "production"}]}
    ])
}

fn permit(extra: Value) -> Value {
    let mut r = json!({"effect": "permit", "principal_scope_type": "in", "principal_entity_type": "Group",
        "principal_entity_id": "engineering", "action_scope_type": "in", "action_ids": ["request", "extend"],
        "resource_scope_type": "any"});
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

async fn policy(s: &TestServer, t: &Tenant, body: Value) -> Value {
    let r = send(s, &t.admin_key, t, Method::POST, "/v1/policies", Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body
}

struct Ctx {
    s: TestServer,
    t: Tenant,
    req: String,
}

async fn setup() -> Ctx {
    let s = TestServer::start().await;
    let t = s.tenant().await;
    let r = send(
        &s,
        &t.admin_key,
        &t,
        Method::PUT,
        "/v1/entities",
        Some(entities()),
    )
    .await;
    assert_eq!(r.status, 200);
    let req = s.key(&t, "requester").await;
    Ctx { s, t, req }
}

impl Ctx {
    async fn call(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.req, &self.t, m, path, body).await
    }
    async fn admin(&self, m: Method, path: &str, body: Option<Value>) -> Resp {
        send(&self.s, &self.t.admin_key, &self.t, m, path, body).await
    }
    async fn grant(&self, body: Value) -> Resp {
        self.call(Method::POST, "/v1/grants", Some(body)).await
    }
}

fn ask(user: &str, resource: (&str, &str), extra: Value) -> Value {
    let mut b = json!({"principal": {"type": "User", "id": user}, "resource": {"type": resource.0, "id": resource.1}});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

backends! {
    #[tokio::test]
    async fn request_uses_the_governing_policy_and_caps_the_duration() {
        let c = setup().await;
        let low = policy(
            &c.s,
            &c.t,
            json!({"key": "broad", "name": "broad", "priority": 1,
            "max_duration_seconds": 7200, "rules": [permit(json!({}))]}),
        )
        .await;
        let high = policy(&c.s, &c.t, json!({"key": "read", "name": "read", "priority": 10,
            "max_duration_seconds": 3600, "default_duration_seconds": 600,
            "rules": [permit(json!({"resource_scope_type": "is", "resource_entity_type": "App",
                "conditions": "when { [\"read\"].containsAll(context.scopes) }", "notice": "read only", "audit_session": true}))]})).await;

        // both permit: the higher priority governs; default duration
        let now = c.s.clock.now();
        let r = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"scopes": ["read"], "reason": "debug"}),
            ))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        let g = &r.body;
        assert_eq!(g["policy_id"], high["id"]);
        assert_eq!(g["policy_key"], "read");
        assert_eq!(g["status"], "GRANTED");
        assert_eq!(g["grant_type"], "PREAPPROVED");
        assert_eq!(g["app"], "github");
        assert_eq!(g["scopes"], json!(["read"]));
        assert_eq!(g["reason"], "debug");
        assert_eq!(g["clamped"], false);
        assert_eq!(g["requested_duration_seconds"], Value::Null);
        assert_eq!(g["audit_session"], true);
        assert_eq!(g["notices"], json!(["read only"]));
        assert_eq!(g["extension_count"], 0);
        assert_eq!(g["version"], 1);
        assert_eq!(r.headers["etag"], "\"1\"");
        assert_eq!(g["determining"].as_array().unwrap().len(), 2);
        let expires = grantd::clock::parse_ts(g["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((expires - now).num_seconds(), 600);

        // over the governing max: clamped
        let r = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"scopes": ["read"], "duration_seconds": 5000}),
            ))
            .await;
        assert_eq!(r.body["clamped"], true);
        assert_eq!(r.body["requested_duration_seconds"], 5000);
        let g = &r.body;
        let d = grantd::clock::parse_ts(g["expires_at"].as_str().unwrap()).unwrap()
            - grantd::clock::parse_ts(g["granted_at"].as_str().unwrap()).unwrap();
        assert_eq!(d.num_seconds(), 3600);

        // only the low-priority policy permits writes: it governs, with its own max
        let r = c
            .grant(ask(
                "alice",
                ("Entitlement", "prod-admin"),
                json!({"scopes": ["write"], "duration_seconds": 9000}),
            ))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
        assert_eq!(r.body["policy_id"], low["id"]);
        assert_eq!(r.body["app"], "production", "the nearest App ancestor");
        assert_eq!(r.body["clamped"], true);
        assert_eq!(r.body["audit_session"], false);
        // no duration at all and no default: the max
        let r = c
            .grant(ask("alice", ("Entitlement", "prod-admin"), json!({})))
            .await;
        let d = grantd::clock::parse_ts(r.body["expires_at"].as_str().unwrap()).unwrap()
            - grantd::clock::parse_ts(r.body["granted_at"].as_str().unwrap()).unwrap();
        assert_eq!(d.num_seconds(), 7200);
        assert_eq!(r.body["scopes"], json!([]));

        // the event
        let events = c.s.events(&c.t.id).await;
        let (_, ev) = events
            .iter()
            .rev()
            .find(|(k, _)| k == "grant.request")
            .unwrap();
        assert_eq!(ev["decision"], "allow");
        assert_eq!(ev["subject"]["type"], "grant");
        assert_eq!(ev["subject"]["id"], r.body["id"]);
        assert!(ev["policy_set_version"].is_i64());
    }

    #[tokio::test]
    async fn denied_requests_are_403_with_notices_and_audited() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let forbid = policy(&c.s, &c.t, json!({"key": "no-contractors", "name": "nc", "max_duration_seconds": 60, "rules": [
            {"effect": "forbid", "principal_scope_type": "in", "principal_entity_type": "Group", "principal_entity_id": "contractors",
             "action_scope_type": "any", "resource_scope_type": "in", "resource_entity_type": "App", "resource_entity_id": "production",
             "notice": "Contractors may not touch production."}]})).await;
        let r = c
            .grant(ask(
                "carol",
                ("Entitlement", "prod-admin"),
                json!({"reason": "please"}),
            ))
            .await;
        r.assert_error(403, "access_denied");
        assert_eq!(
            r.body["notices"],
            json!(["Contractors may not touch production."])
        );
        assert_eq!(r.body["details"]["deny_reason"], "forbid");
        assert_eq!(
            r.body["details"]["determining"][0]["policy_id"],
            forbid["id"]
        );
        let ev = c.s.events(&c.t.id).await;
        let (_, ev) = ev.iter().rev().find(|(k, _)| k == "grant.request").unwrap();
        assert_eq!(ev["decision"], "deny");
        assert_eq!(ev["deny_reason"], "forbid");
        assert_eq!(
            ev["notices"],
            json!(["Contractors may not touch production."])
        );
        assert_eq!(
            ev["subject"],
            json!({"type": "principal", "id": "User::\"carol\""})
        );
        // nobody permits an unknown group member: no_permit
        c.admin(
            Method::PUT,
            "/v1/entities",
            Some(json!([{"uid": {"type": "User", "id": "eve"}, "attrs": {}, "parents": []}])),
        )
        .await;
        let r = c.grant(ask("eve", ("App", "github"), json!({}))).await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["details"]["deny_reason"], "no_permit");
    }

    #[tokio::test]
    async fn request_input_is_checked() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        for (body, needle) in [
            (ask("nobody", ("App", "github"), json!({})), "principal"),
            (ask("alice", ("App", "nowhere"), json!({})), "resource"),
            (
                ask("alice", ("App", "github"), json!({"duration_seconds": 0})),
                "duration_seconds",
            ),
            (
                ask("alice", ("App", "github"), json!({"duration_seconds": -5})),
                "duration_seconds",
            ),
            (
                ask(
                    "alice",
                    ("App", "github"),
                    json!({"duration_seconds": i64::MAX}),
                ),
                "duration_seconds",
            ),
            (
                ask(
                    "alice",
                    ("App", "github"),
                    json!({"context": {"scopes": ["x"]}}),
                ),
                "context.scopes",
            ),
            (
                ask(
                    "alice",
                    ("App", "github"),
                    json!({"context": {"undeclared": 1}}),
                ),
                "context",
            ),
            (
                ask("alice", ("App", "github"), json!({"context": [1]})),
                "context",
            ),
            (
                ask("alice", ("App", "github"), json!({"colour": "red"})),
                "colour",
            ),
            (
                ask("alice", ("App", "github"), json!({"scopes": "read"})),
                "scopes",
            ),
        ] {
            let r = c.grant(body.clone()).await;
            r.assert_error(400, "invalid_input");
            assert!(
                r.body["message"].as_str().unwrap().contains(needle),
                "{body}: {}",
                r.text
            );
        }
        // declared extra context keys are passed to the rules
        let schema = std::fs::read_to_string(common::policies_dir().join("schema.cedarschema"))
            .unwrap()
            .replace(
                "  extension_count: Long,",
                "  extension_count: Long,\n  ticket?: String,",
            );
        let r = c
            .admin(
                Method::PUT,
                "/v1/schema",
                Some(json!({"cedarschema": schema})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        policy(&c.s, &c.t, json!({"key": "ticket", "name": "t", "max_duration_seconds": 60, "rules": [
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any", "resource_scope_type": "any",
             "conditions": "unless { context has ticket }", "notice": "a ticket is required"}]})).await;
        c.grant(ask("alice", ("App", "github"), json!({})))
            .await
            .assert_error(403, "access_denied");
        let r = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"context": {"ticket": "INC-1"}}),
            ))
            .await;
        assert_eq!(r.status, 201, "{}", r.text);
    }

    #[tokio::test]
    async fn rules_can_use_duration_presence_and_extension_count() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 36000, "rules": [permit(json!({}))]})).await;
        policy(&c.s, &c.t, json!({"key": "limits", "name": "limits", "max_duration_seconds": 60, "rules": [
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "eq", "action_ids": ["request"],
             "resource_scope_type": "any", "conditions": "unless { context has duration_seconds }",
             "notice": "say how long you need it"},
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "eq", "action_ids": ["extend"],
             "resource_scope_type": "any", "conditions": "when { context.extension_count >= 2 }",
             "notice": "at most two extensions"},
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "eq", "action_ids": ["extend"],
             "resource_scope_type": "any",
             "conditions": "when { context has total_duration_seconds && context.total_duration_seconds > 20000 }",
             "notice": "too long in total"}]})).await;
        let r = c.grant(ask("alice", ("App", "github"), json!({}))).await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["notices"], json!(["say how long you need it"]));
        let g = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"duration_seconds": 600}),
            ))
            .await;
        assert_eq!(g.status, 201, "{}", g.text);
        let id = g.body["id"].as_str().unwrap();
        let ext = format!("/v1/grants/{id}/extend");
        for n in 1..=2 {
            let r = c
                .call(Method::POST, &ext, Some(json!({"duration_seconds": 1200})))
                .await;
            assert_eq!(r.status, 200, "{}", r.text);
            assert_eq!(r.body["extension_count"], n);
            assert_eq!(r.body["status"], "EXTENDED");
        }
        let r = c
            .call(Method::POST, &ext, Some(json!({"duration_seconds": 1200})))
            .await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["notices"], json!(["at most two extensions"]));
        let after = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(
            after.body["extension_count"], 2,
            "denied extension changes nothing"
        );
        assert_eq!(after.body["version"], 3);
        let kinds: Vec<(String, Value)> = c.s.events(&c.t.id).await;
        let ext_events: Vec<&Value> = kinds
            .iter()
            .filter(|(k, _)| k == "grant.extend")
            .map(|(_, e)| e)
            .collect();
        assert_eq!(ext_events.len(), 3);
        assert_eq!(ext_events[2]["decision"], "deny");
    }

    #[tokio::test]
    async fn extend_caps_the_lifetime_and_follows_the_contract() {
        let c = setup().await;
        let p = policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let g = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"duration_seconds": 600}),
            ))
            .await
            .body;
        let id = g["id"].as_str().unwrap().to_string();
        let granted_at = grantd::clock::parse_ts(g["granted_at"].as_str().unwrap()).unwrap();
        let ext = format!("/v1/grants/{id}/extend");
        // bad input
        for body in [
            json!({}),
            json!({"duration_seconds": 0}),
            json!({"duration_seconds": -1}),
            json!({"expires_at": "2001-01-01T00:00:00Z"}),
            json!({"duration_seconds": 5, "expires_at": "2099-01-01T00:00:00Z"}),
            json!({"expires_at": "tomorrow"}),
        ] {
            c.call(Method::POST, &ext, Some(body.clone()))
                .await
                .assert_error(400, "invalid_input");
        }
        // durations past any representable time are refused, not a panic
        for body in [
            json!({"duration_seconds": i64::MAX}),
            json!({"duration_seconds": 4_000_000_000i64}),
        ] {
            c.call(Method::POST, &ext, Some(body))
                .await
                .assert_error(400, "invalid_input");
        }
        // to a time, within the cap
        c.s.clock.advance(chrono::Duration::seconds(300));
        let at = grantd::clock::format_ts(&(granted_at + chrono::Duration::seconds(1000)));
        let r = c
            .call(Method::POST, &ext, Some(json!({"expires_at": at})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["expires_at"], at.as_str());
        assert_eq!(r.body["clamped"], false);
        // beyond granted_at + max: clamped
        let r = c
            .call(Method::POST, &ext, Some(json!({"duration_seconds": 7200})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["clamped"], true);
        assert_eq!(r.body["requested_duration_seconds"], 7200);
        assert_eq!(r.body["policy_id"], p["id"]);
        let exp = grantd::clock::parse_ts(r.body["expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((exp - granted_at).num_seconds(), 3600);
        assert_eq!(r.headers["etag"], "\"3\"");
        // an extension never shortens: an earlier expiry is refused, the grant unchanged
        let r = c
            .call(Method::POST, &ext, Some(json!({"expires_at": at})))
            .await;
        r.assert_error(400, "invalid_input");
        // stale If-Match
        let stale = TestServer::read(
            c.s.client
                .post(format!("{}{ext}", c.s.base))
                .header("X-API-Key", &c.req)
                .header("X-Tenant-ID", &c.t.id)
                .header("If-Match", "\"1\"")
                .json(&json!({"duration_seconds": 60}))
                .send()
                .await
                .unwrap(),
        )
        .await;
        stale.assert_error(409, "conflict");
        // revoked: 409
        let r = c
            .call(
                Method::POST,
                &format!("/v1/grants/{id}/revoke"),
                Some(json!({"reason": "done"})),
            )
            .await;
        assert_eq!(r.status, 200);
        c.call(Method::POST, &ext, Some(json!({"duration_seconds": 60})))
            .await
            .assert_error(409, "conflict");
        // unknown / other tenant: 404
        c.call(
            Method::POST,
            "/v1/grants/0190a5e0-0000-7000-8000-000000000001/extend",
            Some(json!({"duration_seconds": 60})),
        )
        .await
        .assert_error(404, "not_found");
    }

    #[tokio::test]
    async fn revoke_and_put_follow_the_status_machine_and_roles() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let g = c
            .grant(ask("alice", ("App", "github"), json!({"scopes": ["read"]})))
            .await
            .body;
        let id = g["id"].as_str().unwrap().to_string();
        let path = format!("/v1/grants/{id}");
        // admin-only fields are refused for a requester, whatever the state
        for body in [
            json!({"status": "EXPIRED"}),
            json!({"status": "EXTENDED"}),
            json!({"granted_by": "x"}),
            json!({"granted_at": "2024-01-01T00:00:00Z"}),
            json!({"policy_key": "eng"}),
        ] {
            c.call(Method::PUT, &path, Some(body))
                .await
                .assert_error(403, "forbidden");
        }
        // the resource may be sent back only unchanged
        c.call(
            Method::PUT,
            &path,
            Some(json!({"resource": {"type": "App", "id": "production"}})),
        )
        .await
        .assert_error(400, "invalid_input");
        let r = c
            .call(
                Method::PUT,
                &path,
                Some(json!({"resource": {"type": "App", "id": "github"}, "scopes": ["read", "write"]})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["scopes"], json!(["read", "write"]));
        // admin fields
        let r = c
            .admin(
                Method::PUT,
                &path,
                Some(json!({"granted_by": "bob@example.com", "status": "EXTENDED"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["granted_by"], "bob@example.com");
        assert_eq!(r.body["status"], "EXTENDED");
        c.admin(Method::PUT, &path, Some(json!({"status": "GRANTED"})))
            .await
            .assert_error(409, "conflict");
        c.admin(
            Method::PUT,
            &path,
            Some(json!({"granted_at": "2000-01-01T00:00:00Z"})),
        )
        .await
        .assert_error(400, "invalid_input");
        let kinds: Vec<String> =
            c.s.events(&c.t.id)
                .await
                .into_iter()
                .map(|(k, _)| k)
                .collect();
        assert_eq!(kinds.iter().filter(|k| *k == "grant.update").count(), 2);
        // PUT status REVOKED is the revoke endpoint
        let r = c
            .call(Method::PUT, &path, Some(json!({"status": "REVOKED"})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "REVOKED");
        assert!(r.body["revoked_at"].is_string());
        assert!(r.body["revoked_by"].is_string());
        let kinds: Vec<String> =
            c.s.events(&c.t.id)
                .await
                .into_iter()
                .map(|(k, _)| k)
                .collect();
        assert_eq!(kinds.iter().filter(|k| *k == "grant.revoke").count(), 1);
        // terminal
        c.call(Method::POST, &format!("{path}/revoke"), None)
            .await
            .assert_error(409, "conflict");
        c.admin(Method::PUT, &path, Some(json!({"status": "EXPIRED"})))
            .await
            .assert_error(409, "conflict");
        // the role is checked before the state: still 403 for the requester on a revoked grant
        c.call(Method::PUT, &path, Some(json!({"granted_by": "x"})))
            .await
            .assert_error(403, "forbidden");

        // EXPIRED by an admin sets expires_at to now
        let g2 = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        let r = c
            .admin(
                Method::PUT,
                &format!("/v1/grants/{}", g2["id"].as_str().unwrap()),
                Some(json!({"status": "EXPIRED"})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["status"], "EXPIRED");
        assert_eq!(r.body["expires_at"], r.body["updated_at"]);
        // revoke with a reason, and without a body
        let g3 = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        let r = c
            .call(
                Method::POST,
                &format!("/v1/grants/{}/revoke", g3["id"].as_str().unwrap()),
                Some(json!({"reason": "offboarding"})),
            )
            .await;
        assert_eq!(r.body["revoke_reason"], "offboarding");
        // an empty body (with or without a JSON content type) is no reason; a body must be JSON
        let g5 = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        let url5 = format!(
            "{}/v1/grants/{}/revoke",
            c.s.base,
            g5["id"].as_str().unwrap()
        );
        let post5 = |ct: Option<&'static str>, body: &'static str| {
            let mut r =
                c.s.client
                    .post(&url5)
                    .header("X-API-Key", &c.req)
                    .header("X-Tenant-ID", &c.t.id)
                    .body(body);
            if let Some(ct) = ct {
                r = r.header("Content-Type", ct);
            }
            r.send()
        };
        TestServer::read(post5(Some("text/plain"), "reason=x").await.unwrap())
            .await
            .assert_error(415, "unsupported_media_type");
        TestServer::read(
            post5(Some("application/json"), r#"{"reson": "x"}"#)
                .await
                .unwrap(),
        )
        .await
        .assert_error(400, "invalid_input");
        let r = TestServer::read(post5(Some("application/json"), "").await.unwrap()).await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["revoke_reason"], Value::Null);
        let g4 = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        let r = TestServer::read(
            c.s.client
                .post(format!(
                    "{}/v1/grants/{}/revoke",
                    c.s.base,
                    g4["id"].as_str().unwrap()
                ))
                .header("X-API-Key", &c.req)
                .header("X-Tenant-ID", &c.t.id)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }

    #[tokio::test]
    async fn scope_and_policy_changes_are_re_evaluated() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "read", "name": "read", "priority": 5, "max_duration_seconds": 3600, "rules": [
            permit(json!({"conditions": "when { [\"read\"].containsAll(context.scopes) }"}))]})).await;
        let other = policy(&c.s, &c.t, json!({"key": "other", "name": "other", "priority": 1, "max_duration_seconds": 7200, "rules": [
            permit(json!({"resource_scope_type": "eq", "resource_entity_type": "App", "resource_entity_id": "github"}))]})).await;
        let disabled = policy(
            &c.s,
            &c.t,
            json!({"key": "off", "name": "off", "enabled": false, "max_duration_seconds": 60,
            "rules": [permit(json!({}))]}),
        )
        .await;
        policy(&c.s, &c.t, json!({"key": "no-admin-scope", "name": "x", "max_duration_seconds": 60, "rules": [
            {"effect": "forbid", "principal_scope_type": "any", "action_scope_type": "any", "resource_scope_type": "any",
             "conditions": "when { context.scopes.contains(\"admin\") }", "notice": "no admin scope"}]})).await;
        let g = c
            .grant(ask("alice", ("App", "github"), json!({"scopes": ["read"]})))
            .await
            .body;
        let path = format!("/v1/grants/{}", g["id"].as_str().unwrap());
        let r = c
            .call(Method::PUT, &path, Some(json!({"scopes": ["admin"]})))
            .await;
        r.assert_error(403, "access_denied");
        assert_eq!(r.body["notices"], json!(["no admin scope"]));
        let same = c.call(Method::GET, &path, None).await;
        assert_eq!(same.body["scopes"], json!(["read"]));
        assert_eq!(same.body["version"], 1);
        // move to another policy that permits it
        let r = c
            .admin(Method::PUT, &path, Some(json!({"policy_key": "other"})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        assert_eq!(r.body["policy_id"], other["id"]);
        // a disabled policy, or one without a determining permit, is refused
        c.admin(
            Method::PUT,
            &path,
            Some(json!({"policy_id": disabled["id"]})),
        )
        .await
        .assert_error(403, "access_denied");
        c.admin(
            Method::PUT,
            &path,
            Some(json!({"policy_key": "no-admin-scope"})),
        )
        .await
        .assert_error(403, "access_denied");
        c.admin(Method::PUT, &path, Some(json!({"policy_key": "missing"})))
            .await
            .assert_error(400, "invalid_input");
        // the policy governing it cannot be deleted now
        c.admin(Method::DELETE, "/v1/policies/other", None)
            .await
            .assert_error(409, "conflict");
        c.call(Method::POST, &format!("{path}/revoke"), None).await;
        assert_eq!(
            c.admin(Method::DELETE, "/v1/policies/other", None)
                .await
                .status,
            204
        );
    }

    #[tokio::test]
    async fn expiry_is_immediate_and_then_persisted_by_the_sweeper() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let g = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"duration_seconds": 60}),
            ))
            .await
            .body;
        let id = g["id"].as_str().unwrap().to_string();
        let check = json!({"principal": {"type": "User", "id": "alice"}, "resource": {"type": "App", "id": "github"}});
        assert_eq!(
            c.call(Method::POST, "/v1/access/check", Some(check.clone()))
                .await
                .body["allowed"],
            true
        );
        c.s.clock.advance(chrono::Duration::seconds(60));
        // at once, before any sweep
        let r = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(r.body["status"], "EXPIRED");
        assert_eq!(
            c.call(Method::POST, "/v1/access/check", Some(check.clone()))
                .await
                .body["allowed"],
            false
        );
        c.call(
            Method::POST,
            &format!("/v1/grants/{id}/extend"),
            Some(json!({"duration_seconds": 60})),
        )
        .await
        .assert_error(409, "conflict");
        // the sweeper persists it with its event (it runs every second against the same clock)
        let db = c.s.db().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let (status,): (String,) =
                sqlx::query_as("SELECT status FROM grants WHERE CAST(id AS TEXT) = $1")
                    .bind(&id)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            if status == "EXPIRED" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the sweeper never persisted the expiry"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let events = c.s.events(&c.t.id).await;
        let expired: Vec<_> = events.iter().filter(|(k, _)| k == "grant.expire").collect();
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].1["subject"]["id"], id.as_str());
        // sweeping again changes nothing
        let n = grantd::service::grants::sweep(&c.s.state.services.store, c.s.clock.now())
            .await
            .unwrap();
        assert_eq!(n, 0);
    }

    #[tokio::test]
    async fn access_check_covers_ancestors_scopes_revocation_and_tenants() {
        let c = setup().await;
        policy(
            &c.s,
            &c.t,
            json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600,
            "covers_descendants": true, "rules": [permit(json!({}))]}),
        )
        .await;
        let check = |user: &str, rt: &str, rid: &str, scopes: Value| {
            let mut b = json!({"principal": {"type": "User", "id": user}, "resource": {"type": rt, "id": rid}});
            if !scopes.is_null() {
                b["scopes"] = scopes;
            }
            b
        };
        let ac = |b: Value| c.call(Method::POST, "/v1/access/check", Some(b));
        assert_eq!(
            ac(check("alice", "App", "production", Value::Null))
                .await
                .body,
            json!({"allowed": false, "grant_id": null, "expires_at": null})
        );
        let short = c
            .grant(ask(
                "alice",
                ("App", "production"),
                json!({"scopes": ["read", "write"], "duration_seconds": 100}),
            ))
            .await
            .body;
        let long = c
            .grant(ask(
                "alice",
                ("App", "production"),
                json!({"scopes": ["read"], "duration_seconds": 1000}),
            ))
            .await
            .body;
        // on an entitlement below the app: the ancestor's grant counts; the latest expiry wins
        let r = ac(check("alice", "Entitlement", "prod-admin", json!(["read"]))).await;
        assert_eq!(r.body["allowed"], true);
        assert_eq!(r.body["grant_id"], long["id"]);
        assert_eq!(r.body["expires_at"], long["expires_at"]);
        let r = ac(check("alice", "App", "production", json!(["write"]))).await;
        assert_eq!(r.body["grant_id"], short["id"]);
        assert_eq!(
            ac(check("alice", "App", "production", json!(["delete"])))
                .await
                .body["allowed"],
            false
        );
        assert_eq!(
            ac(check("carol", "App", "production", Value::Null))
                .await
                .body["allowed"],
            false
        );
        // a grant without scopes covers only a check without scopes
        let bare = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        assert_eq!(
            ac(check("alice", "App", "github", Value::Null)).await.body["grant_id"],
            bare["id"]
        );
        assert_eq!(
            ac(check("alice", "App", "github", json!(["read"])))
                .await
                .body["allowed"],
            false
        );
        // last_used_at is stamped (in the background, at most once a minute)
        let db = c.s.db().await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let (used,): (Option<String>,) = sqlx::query_as(
                "SELECT CAST(last_used_at AS TEXT) FROM grants WHERE CAST(id AS TEXT) = $1",
            )
            .bind(bare["id"].as_str().unwrap())
            .fetch_one(&db)
            .await
            .unwrap();
            if used.is_some() {
                break;
            }
            assert!(std::time::Instant::now() < deadline);
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        // revoked: no longer
        c.call(
            Method::POST,
            &format!("/v1/grants/{}/revoke", long["id"].as_str().unwrap()),
            None,
        )
        .await;
        let r = ac(check("alice", "Entitlement", "prod-admin", json!(["read"]))).await;
        assert_eq!(r.body["grant_id"], short["id"]);
        // another tenant sees nothing of it
        let other = c.s.tenant().await;
        let okey = c.s.key(&other, "requester").await;
        let r = send(
            &c.s,
            &okey,
            &other,
            Method::POST,
            "/v1/access/check",
            Some(check("alice", "App", "production", Value::Null)),
        )
        .await;
        assert_eq!(r.body["allowed"], false);
        send(
            &c.s,
            &okey,
            &other,
            Method::GET,
            &format!("/v1/grants/{}", short["id"].as_str().unwrap()),
            None,
        )
        .await
        .assert_error(404, "not_found");
        send(
            &c.s,
            &okey,
            &other,
            Method::POST,
            &format!("/v1/grants/{}/revoke", short["id"].as_str().unwrap()),
            None,
        )
        .await
        .assert_error(404, "not_found");
        send(
            &c.s,
            &other.admin_key,
            &other,
            Method::PUT,
            &format!("/v1/grants/{}", short["id"].as_str().unwrap()),
            Some(json!({"granted_by": "x"})),
        )
        .await
        .assert_error(404, "not_found");
    }

    #[tokio::test]
    async fn an_access_check_finds_the_covering_grant_behind_many_that_do_not_cover() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 86400, "rules": [permit(json!({}))]})).await;
        // one grant with the scope asked for, and twelve that last longer without it
        let read = c.grant(ask("alice", ("App", "github"), json!({"scopes": ["read"], "duration_seconds": 100}))).await;
        assert_eq!(read.status, 201, "{}", read.text);
        let mut longest = Value::Null;
        for i in 0..12 {
            let r = c.grant(ask("alice", ("App", "github"), json!({"scopes": ["write"], "duration_seconds": 1000 + i}))).await;
            assert_eq!(r.status, 201, "{}", r.text);
            longest = r.body;
        }
        let check = |scopes: Value| json!({"principal": {"type": "User", "id": "alice"},
            "resource": {"type": "App", "id": "github"}, "scopes": scopes});
        let r = c.call(Method::POST, "/v1/access/check", Some(check(json!(["read"])))).await;
        assert_eq!((r.body["allowed"].clone(), r.body["grant_id"].clone()), (json!(true), read.body["id"].clone()), "{}", r.text);
        let r = c.call(Method::POST, "/v1/access/check", Some(check(json!([])))).await;
        assert_eq!(r.body["grant_id"], longest["id"], "the latest expiry answers: {}", r.text);
        let r = c.call(Method::POST, "/v1/access/check", Some(check(json!(["admin"])))).await;
        assert_eq!(r.body["allowed"], false, "{}", r.text);
    }

    #[tokio::test]
    async fn a_denial_that_loses_the_race_for_its_key_is_neither_stored_nor_audited() {
        use grantd::domain::audit::{Actor, EventKind, NewEvent, Subject};
        use grantd::store::{IdempotencyRecord, InsertOutcome};
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let body = ask("alice", ("App", "github"), json!({}));
        let first = TestServer::read(
            c.s.client.post(format!("{}/v1/grants", c.s.base))
                .header("X-API-Key", &c.req).header("X-Tenant-ID", &c.t.id)
                .header("Idempotency-Key", "k").json(&body).send().await.unwrap(),
        )
        .await;
        assert_eq!(first.status, 201, "{}", first.text);
        let before = c.s.events(&c.t.id).await;
        // The same request denied meanwhile elsewhere (another instance, deciding on a set
        // from before the permit), stored as the denial path stores it: the key's first
        // answer wins, and the denial leaves nothing.
        let store = &c.s.state.services.store;
        let tenant: grantd::domain::ids::TenantId = c.t.id.parse().unwrap();
        let key_id = grantd::domain::key::PresentedKey::parse(&c.req).unwrap().id;
        let now = c.s.state.services.clock.now();
        let denial = |idem_key: &str| {
            let record = IdempotencyRecord { key_id, idem_key: idem_key.into(), body_hash: "h".into(),
                status: 403, response: "{}".into(), created_at: now };
            let event = NewEvent::new(now, Actor::cli(), EventKind::GrantRequest, Subject::new("principal", "User::\"alice\""));
            (record, event)
        };
        let (record, event) = denial("k");
        match store.put_idempotency(tenant, &record, event).await.unwrap() {
            InsertOutcome::Replay(r) => assert_eq!((r.status, r.response.contains(first.body["id"].as_str().unwrap())), (201, true)),
            other => panic!("the first answer must win: {other:?}"),
        }
        assert_eq!(c.s.events(&c.t.id).await, before, "nothing audited");
        // Under a key nobody answered yet, the denial and its event are stored together.
        let (record, event) = denial("k-new");
        assert!(matches!(store.put_idempotency(tenant, &record, event).await.unwrap(), InsertOutcome::Done));
        let after = c.s.events(&c.t.id).await;
        assert_eq!(after.len(), before.len() + 1);
        assert_eq!(after.last().unwrap().0, "grant.request");
        let stored = store.get_idempotency(key_id, "k-new", now - chrono::Duration::hours(1)).await.unwrap();
        assert_eq!(stored.map(|r| r.status), Some(403));
    }

    #[tokio::test]
    async fn idempotent_retries_replay_the_first_answer() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let post = |key: &str, body: Value| {
            c.s.client
                .post(format!("{}/v1/grants", c.s.base))
                .header("X-API-Key", &c.req)
                .header("X-Tenant-ID", &c.t.id)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
        };
        let body = ask("alice", ("App", "github"), json!({"scopes": ["read"]}));
        let first = TestServer::read(post("k1", body.clone()).await.unwrap()).await;
        assert_eq!(first.status, 201);
        let again = TestServer::read(post("k1", body.clone()).await.unwrap()).await;
        assert_eq!(again.status, 201);
        assert_eq!(again.body, first.body);
        let other = TestServer::read(
            post(
                "k1",
                ask("alice", ("App", "github"), json!({"scopes": ["write"]})),
            )
            .await
            .unwrap(),
        )
        .await;
        other.assert_error(409, "conflict");
        // a denial is replayed too, without a new decision
        c.admin(
            Method::PUT,
            "/v1/entities",
            Some(json!([{"uid": {"type": "User", "id": "eve"}, "attrs": {}, "parents": []}])),
        )
        .await;
        let deny = ask("eve", ("App", "github"), json!({}));
        let d1 = TestServer::read(post("k2", deny.clone()).await.unwrap()).await;
        d1.assert_error(403, "access_denied");
        let before = c.s.events(&c.t.id).await.len();
        let d2 = TestServer::read(post("k2", deny.clone()).await.unwrap()).await;
        assert_eq!(d2.status, 403);
        assert_eq!(d2.body, d1.body);
        assert_eq!(c.s.events(&c.t.id).await.len(), before, "no new decision");
        // concurrent duplicates make one grant
        let mut tasks = Vec::new();
        for _ in 0..8 {
            tasks.push(post("k3", ask("alice", ("App", "production"), json!({}))));
        }
        let mut ids = std::collections::HashSet::new();
        for r in futures_util::future::join_all(tasks).await {
            let r = TestServer::read(r.unwrap()).await;
            assert!(r.status == 201 || r.status == 409, "{}", r.text);
            if r.status == 201 {
                ids.insert(r.body["id"].as_str().unwrap().to_string());
            }
        }
        assert_eq!(ids.len(), 1);
        let db = c.s.db().await;
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM grants WHERE resource_id = 'production'")
                .fetch_one(&db)
                .await
                .unwrap();
        assert_eq!(n, 1);
        // the key is per API key: another key may use "k1" for something else
        let admin_first = TestServer::read(
            c.s.client
                .post(format!("{}/v1/grants", c.s.base))
                .header("X-API-Key", &c.t.admin_key)
                .header("X-Tenant-ID", &c.t.id)
                .header("Idempotency-Key", "k1")
                .json(&ask("alice", ("App", "production"), json!({})))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(admin_first.status, 201);
        // a retry gets the first answer even where the request would now be refused: by a
        // forbid written since (denied at evaluation), or before any decision, by a
        // resource since deleted; and no decision is audited for it
        policy(&c.s, &c.t, json!({"key": "no-gh", "name": "no github for alice", "max_duration_seconds": 3600, "rules": [{"effect": "forbid",
            "principal_scope_type": "eq", "principal_entity_type": "User", "principal_entity_id": "alice",
            "action_scope_type": "any", "resource_scope_type": "eq", "resource_entity_type": "App",
            "resource_entity_id": "github"}]})).await;
        // (a policy or entity change re-evaluates grants in the background: count requests)
        async fn requests(c: &Ctx) -> usize {
            let events = c.s.events(&c.t.id).await;
            events.iter().filter(|(k, _)| k == "grant.request").count()
        }
        let before = requests(&c).await;
        let after_forbid = TestServer::read(post("k1", body.clone()).await.unwrap()).await;
        assert_eq!(after_forbid.status, 201, "{}", after_forbid.text);
        assert_eq!(after_forbid.body, first.body);
        TestServer::read(post("k1-new", body.clone()).await.unwrap())
            .await
            .assert_error(403, "access_denied");
        assert_eq!(requests(&c).await, before + 1, "only the new key's denial");
        let del = c.admin(Method::DELETE, "/v1/entities/App/github", None).await;
        assert!(del.status.is_success(), "{}", del.text);
        let before = requests(&c).await;
        let after_delete = TestServer::read(post("k1", body.clone()).await.unwrap()).await;
        assert_eq!(after_delete.status, 201, "{}", after_delete.text);
        assert_eq!(after_delete.body, first.body);
        let fresh = TestServer::read(post("k1-newer", body.clone()).await.unwrap()).await;
        assert!(fresh.status.is_client_error(), "{}", fresh.text);
        assert_eq!(requests(&c).await, before);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoke_racing_extends_ends_revoked() {
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 36000, "rules": [permit(json!({}))]})).await;
        let g = c
            .grant(ask(
                "alice",
                ("App", "github"),
                json!({"duration_seconds": 60}),
            ))
            .await
            .body;
        let id = g["id"].as_str().unwrap().to_string();
        let mut tasks = Vec::new();
        for i in 0..21 {
            let (client, base, key, tenant, id) = (
                c.s.client.clone(),
                c.s.base.clone(),
                c.req.clone(),
                c.t.id.clone(),
                id.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let (path, body) = if i == 10 {
                    (
                        format!("{base}/v1/grants/{id}/revoke"),
                        json!({"reason": "race"}),
                    )
                } else {
                    (
                        format!("{base}/v1/grants/{id}/extend"),
                        json!({"duration_seconds": 600 + i}),
                    )
                };
                let r = client
                    .post(path)
                    .header("X-API-Key", key)
                    .header("X-Tenant-ID", tenant)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                (i, TestServer::read(r).await)
            }));
        }
        let mut ok_extends = 0;
        for t in tasks {
            let (i, r) = t.await.unwrap();
            if i == 10 {
                assert_eq!(r.status, 200, "the revoke always wins: {}", r.text);
            } else if r.status == 200 {
                ok_extends += 1;
            } else if r.status == 400 {
                // a longer extension committed first: this one would shorten the grant
                r.assert_error(400, "invalid_input");
            } else {
                r.assert_error(409, "conflict");
            }
        }
        let end = c.call(Method::GET, &format!("/v1/grants/{id}"), None).await;
        assert_eq!(end.body["status"], "REVOKED");
        let events = c.s.events(&c.t.id).await;
        let allowed_extends = events
            .iter()
            .filter(|(k, e)| k == "grant.extend" && e["decision"] == "allow")
            .count();
        assert_eq!(
            allowed_extends, ok_extends,
            "every successful extend is on record, and only those"
        );
        assert_eq!(
            events.iter().filter(|(k, _)| k == "grant.revoke").count(),
            1
        );
        assert_eq!(end.body["extension_count"], ok_extends);
        assert_eq!(end.body["version"], 2 + ok_extends);
    }

    #[tokio::test]
    async fn a_grant_decided_under_an_older_configuration_is_not_written() {
        use grantd::store::{InsertOutcome, WriteOutcome};
        let c = setup().await;
        policy(&c.s, &c.t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let g = c
            .grant(ask("alice", ("App", "github"), json!({})))
            .await
            .body;
        let store = &c.s.state.services.store;
        let tenant: grantd::domain::ids::TenantId = c.t.id.parse().unwrap();
        let decided_at = store.config_snapshot(tenant).await.unwrap().revision;
        // the policy is disabled after the decision, before the write
        c.admin(
            Method::PATCH,
            "/v1/policies/eng",
            Some(json!({"enabled": false})),
        )
        .await;
        let mut grant: grantd::domain::grant::Grant = serde_json::from_value(g.clone()).unwrap();
        grant.id = uuid::Uuid::now_v7();
        let event = || {
            grantd::domain::audit::NewEvent::new(
                c.s.clock.now(),
                grantd::domain::audit::Actor::cli(),
                grantd::domain::audit::EventKind::GrantRequest,
                grantd::domain::audit::Subject::new("grant", grant.id),
            )
        };
        assert_eq!(
            store
                .insert_grant(tenant, &grant, event(), None, decided_at)
                .await
                .unwrap(),
            InsertOutcome::Stale
        );
        let existing: grantd::domain::grant::Grant = serde_json::from_value(g).unwrap();
        let mut next = existing.clone();
        next.version += 1;
        assert_eq!(
            store
                .update_grant(tenant, &next, existing.version, event(), Some(decided_at))
                .await
                .unwrap(),
            WriteOutcome::StaleRevision
        );
        // and through the API, the next request is decided afresh: denied
        c.grant(ask("alice", ("App", "github"), json!({})))
            .await
            .assert_error(403, "access_denied");
    }

    #[tokio::test]
    async fn a_write_by_another_process_is_honoured_before_the_poller_sees_it() {
        let s = TestServer::start_with(|c| {
            c.change_poll_interval = std::time::Duration::from_secs(3600)
        })
        .await;
        let t = s.tenant().await;
        send(
            &s,
            &t.admin_key,
            &t,
            Method::PUT,
            "/v1/entities",
            Some(entities()),
        )
        .await;
        let p = policy(&s, &t, json!({"key": "eng", "name": "eng", "max_duration_seconds": 3600, "rules": [permit(json!({}))]})).await;
        let r = send(
            &s,
            &t.admin_key,
            &t,
            Method::POST,
            "/v1/grants",
            Some(ask("alice", ("App", "github"), json!({}))),
        )
        .await;
        assert_eq!(r.status, 201, "{}", r.text);
        // "another process": a second grantd on the same database file disables the policy
        let other = grantd::App::open(
            grantd::config::Config::new(s.db_url.clone(), common::policies_dir()),
            s.clock.clone(),
        )
        .await
        .unwrap();
        let caller = grantd::service::Caller {
            tenant_id: t.id.parse().unwrap(),
            key_id: grantd::domain::ids::KeyId::new(),
            role: grantd::domain::role::Role::Admin,
            on_behalf_of: None,
            min_policy_set_version: None,
        };
        let patch: grantd::domain::policy::PolicyPatch =
            serde_json::from_value(json!({"enabled": false})).unwrap();
        grantd::service::policies::patch(
            &other.state.services.store,
            &caller,
            &grantd::domain::policy::PolicyRef::Id(p["id"].as_str().unwrap().parse().unwrap()),
            patch,
            None,
            s.clock.now(),
        )
        .await
        .unwrap();
        // this server's cache still has the old set, but the write is refused and re-decided
        let r = send(
            &s,
            &t.admin_key,
            &t,
            Method::POST,
            "/v1/grants",
            Some(ask("alice", ("App", "github"), json!({}))),
        )
        .await;
        r.assert_error(403, "access_denied");
    }
}
